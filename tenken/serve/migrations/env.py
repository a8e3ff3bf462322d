"""Alembic environment: runs the migrations on the connection :func:`tenken.serve.db.migrate` hands over
(``config.attributes["connection"]``), or on ``sqlalchemy.url`` when run with the ``alembic`` command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from tenken.serve.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
