"""On PostgreSQL, refuse any UPDATE that changes a revision's content, whoever issues it.

The model and queryset already refuse such updates; the trigger also covers raw SQL, data
migrations and other clients of the database. SQLite (the embedded default) relies on the
model-level guard.
"""

from django.db import migrations

CONTENT_COLUMNS = (
    "task_id",
    "number",
    "parent_id",
    "author_id",
    "width",
    "height",
    "map_sha256",
    "map_key",
    "map_bits",
    "segments",
    "source",
    "created_at",
)

CREATE = """
CREATE OR REPLACE FUNCTION annotation_revision_append_only() RETURNS trigger AS $$
BEGIN
    IF ({changed}) THEN
        RAISE EXCEPTION 'revision % content is append-only; save a new revision instead', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER annotation_revision_append_only
BEFORE UPDATE ON annotation_revision
FOR EACH ROW EXECUTE FUNCTION annotation_revision_append_only();
""".format(changed=" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONTENT_COLUMNS))

DROP = """
DROP TRIGGER IF EXISTS annotation_revision_append_only ON annotation_revision;
DROP FUNCTION IF EXISTS annotation_revision_append_only();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
