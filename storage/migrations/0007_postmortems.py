from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_pages')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Postmortem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.OneToOneField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='postmortem', on_delete=OnDelete.CASCADE)),
                ('page_id', fields.CharField(max_length=64)),
                ('space_key', fields.CharField(max_length=255)),
                ('title', fields.CharField(max_length=255)),
                ('url', fields.CharField(max_length=1000)),
                ('version', fields.IntField(default=1)),
                ('digest', fields.CharField(default='', max_length=64)),
                ('ready', fields.BooleanField(default=False)),
                ('ready_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'postmortem', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
