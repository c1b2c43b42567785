"""The only package that imports Tortoise: models, repositories, migrations, outbox, locks."""
