"""Stock Django: Neptun's schema with Python-level ``on_delete`` and a blob signal.

The comparison the benchmark makes: the same tables and indexes, deleted the way
most Django projects do it (``QuerySet.delete()``, Django's collector emulating the
cascades, a ``post_delete`` receiver that removes each file's blob).
"""
