from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'idempotency_key', 'app': 'models', 'pk_attr': 'key'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Incident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=255)),
                ('summary', fields.TextField(unique=False)),
                ('priority', fields.SmallIntField(db_index=True)),
                ('category', fields.CharField(max_length=100)),
                ('environments', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(db_index=True, max_length=20)),
                ('response_type', fields.CharField(max_length=16)),
                ('private', fields.BooleanField(default=False)),
                ('custom_fields', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.CharField(max_length=64)),
                ('channel_id', fields.CharField(null=True, unique=True, max_length=32)),
                ('channel_name', fields.CharField(null=True, max_length=80)),
                ('dedup_key', fields.CharField(null=True, max_length=255)),
                ('active_dedup_key', fields.CharField(null=True, unique=True, max_length=255)),
                ('version', fields.IntField(default=1)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('detected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('declared_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('acknowledged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('mitigated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closure_reason', fields.CharField(null=True, max_length=20)),
                ('closure_reference', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'incident', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobLock',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('owner', fields.CharField(max_length=128)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_lock', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='outbox', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('idempotency_key', fields.CharField(unique=True, max_length=255)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('locked_by', fields.CharField(null=True, max_length=128)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_item', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Participant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='participants', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.CharField(db_index=True, max_length=32)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('left_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'participant', 'app': 'models', 'unique_together': (('incident_id', 'user_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleAssignment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=64)),
                ('user_id', fields.CharField(db_index=True, max_length=32)),
                ('assigned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('assigned_by_kind', fields.CharField(max_length=8)),
                ('assigned_by_id', fields.CharField(max_length=64)),
                ('assigned_by_name', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'role_assignment', 'app': 'models', 'unique_together': (('incident_id', 'role'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TimelineEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='timeline', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('happened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_kind', fields.CharField(max_length=8)),
                ('actor_id', fields.CharField(max_length=64)),
                ('actor_name', fields.CharField(null=True, max_length=255)),
                ('text', fields.TextField(default='', unique=False)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('source_permalink', fields.CharField(null=True, max_length=500)),
                ('source_channel', fields.CharField(null=True, max_length=32)),
                ('source_ts', fields.CharField(null=True, max_length=32)),
                ('edited', fields.BooleanField(default=False)),
                ('struck_out', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'timeline_entry', 'app': 'models', 'indexes': [Index(fields=['incident_id', 'happened_at']), Index(fields=['source_channel', 'source_ts'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
