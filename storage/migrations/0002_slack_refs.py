from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SlackRef',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='slack_refs', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('channel_id', fields.CharField(max_length=32)),
                ('ts', fields.CharField(null=True, max_length=32)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'slack_ref', 'app': 'models', 'unique_together': (('incident_id', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
