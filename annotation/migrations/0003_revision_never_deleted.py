"""Revisions are never deleted: a task holding one is protected, and on PostgreSQL a trigger
refuses any DELETE of a revision row, whoever issues it (raw SQL, other clients).

The one way through is deliberate: ``annotation.models.revision_deletion_allowed()`` sets
``tessera.revision_delete`` for its own transaction only. TRUNCATE is a different statement
and stays possible for the database owner (test runs flush tables with it).

SQLite (the embedded default) relies on the model and queryset guards: Django flushes SQLite
test databases with DELETE, and rebuilds a table (dropping its triggers) on most later
schema changes, so a trigger there would either break the tests or vanish silently.
"""

import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION annotation_revision_never_deleted() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('tessera.revision_delete', true), '') = 'allowed' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'revision % is append-only history and is never deleted', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER annotation_revision_never_deleted
BEFORE DELETE ON annotation_revision
FOR EACH ROW EXECUTE FUNCTION annotation_revision_never_deleted();
"""

DROP = """
DROP TRIGGER IF EXISTS annotation_revision_never_deleted ON annotation_revision;
DROP FUNCTION IF EXISTS annotation_revision_never_deleted();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_revision_content_append_only"),
        ("projects", "0002_qa_workflow"),
    ]

    operations = [
        migrations.AlterField(
            model_name="revision",
            name="task",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="revisions", to="projects.task"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
