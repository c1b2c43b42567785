from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_tickets_and_followups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PagerDutyPage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='pages', on_delete=OnDelete.CASCADE)),
                ('service_key', fields.CharField(max_length=64)),
                ('service_id', fields.CharField(max_length=32)),
                ('escalation_policy_id', fields.CharField(null=True, max_length=32)),
                ('round', fields.SmallIntField(default=1)),
                ('key', fields.CharField(unique=True, max_length=128)),
                ('urgency', fields.CharField(max_length=8)),
                ('status', fields.CharField(db_index=True, max_length=16)),
                ('automatic', fields.BooleanField(default=False)),
                ('requested_by', fields.CharField(max_length=64)),
                ('pd_incident_id', fields.CharField(null=True, max_length=32)),
                ('pd_number', fields.IntField(null=True)),
                ('url', fields.CharField(null=True, max_length=500)),
                ('responders', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('invited', fields.BooleanField(default=False)),
                ('channel_linked', fields.BooleanField(default=False)),
                ('acknowledged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('acknowledged_by', fields.CharField(null=True, max_length=255)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pagerduty_page', 'app': 'models', 'unique_together': (('incident_id', 'service_id', 'round'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
