from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_home_closed_at_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FollowUp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='followups', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('intent_key', fields.CharField(unique=True, max_length=128)),
                ('created_by', fields.CharField(max_length=64)),
                ('due_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('key', fields.CharField(null=True, unique=True, max_length=64)),
                ('issue_id', fields.CharField(null=True, max_length=32)),
                ('url', fields.CharField(null=True, max_length=500)),
                ('status', fields.CharField(null=True, max_length=100)),
                ('status_category', fields.CharField(null=True, max_length=16)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'followup', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncCursor',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('position', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_cursor', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.OneToOneField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='ticket', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('issue_id', fields.CharField(max_length=32)),
                ('url', fields.CharField(max_length=500)),
                ('project', fields.CharField(max_length=64)),
                ('written', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_change_id', fields.BigIntField(default=0)),
                ('remote_updated', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
