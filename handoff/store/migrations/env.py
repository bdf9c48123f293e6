"""Alembic environment for the conversation store (run by ``handoff.store.migrate``).

``handoff.store.migrate`` passes an open connection in ``config.attributes``
(inside its own transaction and lock); without one (e.g. the ``alembic`` command
line with ``-x url=...`` or ``sqlalchemy.url``) an engine is made from the URL,
else from ``CROSSDESK_DATABASE_URL``.
"""

from alembic import context
from sqlalchemy import create_engine

from handoff.store.sql import metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; batch mode writes migrations that way.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from handoff.settings import Settings

    return Settings.from_env().database_url


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(_url(), future=True)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()
