"""Alembic environment: runs on the connection `flux.migrate` hands over, online only."""

from alembic import context

from flux.db import db

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=db.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
