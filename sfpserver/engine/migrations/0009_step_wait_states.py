"""A step's wait state becomes one column, `waiting_for`, and one time, `due_at` (engine/waits.py); the columns
it was decoded from before (`dispatched_at`, `backoff_until`, with `available_at` and `gated`) are read once
here to fill them, and the two that served only that are dropped."""

from django.db import migrations, models

FILL_SQL = """
UPDATE engine_steprun SET
  waiting_for = CASE
    WHEN status = 'PENDING' THEN 'parents'
    WHEN backoff_until IS NOT NULL THEN 'backoff'
    WHEN available_at IS NULL THEN 'gates'
    WHEN dispatched_at IS NULL AND available_at > now() THEN 'backoff'
    WHEN dispatched_at IS NULL THEN 'broker'
    ELSE 'delivered' END,
  due_at = CASE
    WHEN status = 'PENDING' THEN NULL
    WHEN backoff_until IS NOT NULL THEN backoff_until
    WHEN available_at IS NULL THEN NULL
    WHEN dispatched_at IS NULL THEN available_at
    ELSE dispatched_at END
 WHERE status IN ('PENDING', 'QUEUED')
"""

UNFILL_SQL = """
UPDATE engine_steprun SET
  backoff_until = CASE WHEN waiting_for = 'backoff' AND gated THEN due_at END,
  available_at = CASE WHEN waiting_for = 'backoff' AND NOT gated THEN due_at ELSE available_at END,
  dispatched_at = CASE WHEN waiting_for = 'delivered' THEN due_at END
 WHERE status = 'QUEUED'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0008_cron_next_fire"),
    ]

    operations = [
        migrations.AddField(
            model_name="steprun",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="steprun",
            name="waiting_for",
            field=models.CharField(
                blank=True,
                choices=[
                    ("parents", "Parents"),
                    ("backoff", "Backoff"),
                    ("gates", "Gates"),
                    ("broker", "Broker"),
                    ("delivered", "Delivered"),
                    ("sleep", "Sleep"),
                    ("event", "Event"),
                    ("condition", "Condition"),
                ],
                max_length=10,
                null=True,
            ),
        ),
        migrations.RunSQL(FILL_SQL, UNFILL_SQL),
        migrations.RemoveIndex(
            model_name="steprun",
            name="step_queued_due",
        ),
        migrations.RemoveField(
            model_name="steprun",
            name="backoff_until",
        ),
        migrations.RemoveField(
            model_name="steprun",
            name="dispatched_at",
        ),
        migrations.AddIndex(
            model_name="steprun",
            index=models.Index(
                condition=models.Q(("waiting_for__isnull", False)),
                fields=["waiting_for", "due_at"],
                name="step_waiting",
            ),
        ),
    ]
