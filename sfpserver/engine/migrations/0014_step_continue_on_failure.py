"""Block or continue (engine/settling.py): a step may continue on failure, and a run lists the failed steps it
continued past."""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("engine", "0013_dag_conditions")]

    operations = [
        migrations.AddField(
            model_name="steprun", name="continue_on_failure", field=models.BooleanField(default=False)
        ),
        migrations.AddField(
            model_name="workflowrun",
            name="continued_failures",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=200), blank=True, default=list, size=None
            ),
        ),
        migrations.AddField(
            model_name="scheduledrun",
            name="continue_on_failure",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=200), blank=True, default=list, size=None
            ),
        ),
    ]
