# Cross-provider file copies, job retrains and the requested hyperparameters.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ftproxy", "0004_jobevent_notices"),
    ]

    operations = [
        migrations.AddField(
            model_name='file',
            name='copied_from',
            field=models.ForeignKey(blank=True, help_text='The file this one is a copy of, made to train on this entry.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='copies', to='ftproxy.file'),
        ),
        migrations.AddField(
            model_name='finetuningjob',
            name='requested',
            field=models.JSONField(blank=True, help_text='hyperparameters, method and metadata as the create request gave them (the mirrored fields hold what the provider made of them).', null=True),
        ),
        migrations.AddField(
            model_name='finetuningjob',
            name='retrained_from',
            field=models.ForeignKey(blank=True, help_text='The job this one re-creates on another entry.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='retrains', to='ftproxy.finetuningjob'),
        ),
        migrations.AddConstraint(
            model_name='file',
            constraint=models.UniqueConstraint(condition=models.Q(('copied_from__isnull', False), ('deleted', False), models.Q(('ledger_state', 'failed'), _negated=True)), fields=('copied_from', 'provider'), name='ftproxy_file_one_copy'),
        ),
    ]
