from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_slack_refs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CostEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='costs', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('amount', fields.DecimalField(max_digits=16, decimal_places=2)),
                ('currency', fields.CharField(max_length=3)),
                ('note', fields.TextField(default='', unique=False)),
                ('author_id', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cost_entry', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reminder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('due_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('snoozed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('muted', fields.BooleanField(default=False)),
                ('sent_for', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_count', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reminder', 'app': 'models', 'unique_together': (('incident_id', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
