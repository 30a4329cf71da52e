"""Alembic environment for qdcat.

Used three ways: by qdcat itself (``qdcat db upgrade``; a live connection is
passed in ``config.attributes``), by the ``alembic`` command in a checkout
(the URL comes from qdcat's configuration), and by the tests.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from qdcat.analyses import metadata

config = context.config
# The core tables and every analysis's result table (declared in qdcat/analyses/).
target_metadata = metadata()

if config.config_file_name is not None and "connection" not in config.attributes:
    # Run as the `alembic` command: show what it does (qdcat itself stays quiet).
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from qdcat.config import load_config

    return load_config().database_url


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from qdcat.catalog.db import make_engine, migration_connection

    engine = make_engine(_url())
    with migration_connection(engine) as conn:
        _configure_and_run(conn)
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
