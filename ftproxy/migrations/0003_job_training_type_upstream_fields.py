from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ftproxy", "0002_idempotency_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="finetuningjob",
            name="training_type",
            field=models.CharField(
                blank=True, help_text="Azure training tier asked for (trainingType).", max_length=40
            ),
        ),
        migrations.AddField(
            model_name="finetuningjob",
            name="upstream_fields",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Fields of the provider's job answer the gateway does not shape; passed on.",
            ),
        ),
    ]
