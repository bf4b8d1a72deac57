"""The deletion package: what a deletion does beyond its own transaction.

It grows module by module out of :mod:`chats.services`; today it holds

- :mod:`chats.deletion.effects` — the outbox: every side effect outside the database
  (removing a blob from storage) is a row written in the deletion's transaction and
  carried out after commit, by the deleting process and, for whatever is left or
  failed, by the background worker.
- :mod:`chats.deletion.storage` — the storage calls of the deletion paths: batched
  blob removal (S3's ``DeleteObjects``) and a flat, paginated listing of one folder.
"""
