"""``Chat.message_count``, kept by a trigger on the messages table.

PostgreSQL: one statement-level ``AFTER INSERT`` trigger with a transition table, so a
bulk insert or a ``COPY`` of many messages updates each chat once. SQLite: a row
trigger. Existing chats are counted once, before the trigger exists (a migration
runs in one transaction on both, so no message written meanwhile is missed). The
column also has a database default of 0, so a row inserted outside the ORM needs
no value for it.

A later migration that rebuilds ``chats_message`` on SQLite (SQLite's way of
altering a table) drops the trigger with the old table and must create it again.
"""

from django.db import migrations, models

FILL = (
    "UPDATE chats_chat SET message_count = "
    "(SELECT COUNT(*) FROM chats_message WHERE chats_message.chat_id = chats_chat.id)"
)

POSTGRES = [
    """
    CREATE FUNCTION chats_message_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE chats_chat AS c SET message_count = c.message_count + added.n
        FROM (SELECT chat_id, COUNT(*) AS n FROM added_messages GROUP BY chat_id) AS added
        WHERE c.id = added.chat_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER chats_message_count AFTER INSERT ON chats_message
    REFERENCING NEW TABLE AS added_messages
    FOR EACH STATEMENT EXECUTE FUNCTION chats_message_count_added()
    """,
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS chats_message_count ON chats_message",
    "DROP FUNCTION IF EXISTS chats_message_count_added()",
]

SQLITE = [
    """
    CREATE TRIGGER chats_message_count AFTER INSERT ON chats_message
    BEGIN
        UPDATE chats_chat SET message_count = message_count + 1 WHERE id = NEW.chat_id;
    END
    """,
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS chats_message_count"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                f"no message-count trigger for {schema_editor.connection.vendor}"
            )
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0005_temporary_chats"),
    ]

    operations = [
        migrations.AddField(
            model_name="chat",
            name="message_count",
            field=models.PositiveBigIntegerField(
                db_default=0, default=0, editable=False, verbose_name="messages"
            ),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
