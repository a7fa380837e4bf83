from django.db import migrations, models


class Migration(migrations.Migration):
    """Job events that are notices (what the provider found), not status
    changes: their own level and data."""

    dependencies = [
        ("ftproxy", "0003_job_training_type_upstream_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobevent",
            name="level",
            field=models.CharField(blank=True, help_text="Empty: from the status.", max_length=10),
        ),
        migrations.AddField(
            model_name="jobevent",
            name="data",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
