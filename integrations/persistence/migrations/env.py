"""Alembic environment: runs on the connection handed over by `migrate()`."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `carebot migrate`")
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
