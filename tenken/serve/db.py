"""The database: engines for SQLite (WAL, zero set-up) or PostgreSQL (by URL), Alembic migrations, sessions.

SQLite allows one writer at a time. Write transactions therefore start with ``BEGIN IMMEDIATE`` (they take
the write lock up front and wait up to ``busy_timeout`` for it, instead of failing when a read transaction
turns into a write), while reads stay deferred and, in WAL mode, never wait for a writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from tenken.core.errors import InputError

SQLITE_BUSY_MS = 60_000
"""How long an SQLite connection waits for the write lock before failing, milliseconds."""


def make_engine(url: str, immediate: bool = False) -> Engine:
    """An engine for ``url``. SQLite: the file's folder is created; WAL journal, ``synchronous=NORMAL``,
    foreign keys on, a busy timeout; with ``immediate`` every transaction begins with ``BEGIN IMMEDIATE``
    (the write engine).

    Raises:
        InputError: the URL is not a valid SQLAlchemy URL or names a driver that is not installed.
    """
    try:
        if url.startswith("sqlite"):
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False})
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except Exception as exc:  # ArgumentError, NoSuchModuleError, ImportError of the driver
        raise InputError(f"database URL {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine, immediate)
    return engine


def _sqlite_pragmas(engine: Engine, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's own BEGIN is deferred)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` with the Alembic migrations shipped in the package."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class Database:
    """The service's database: a read engine, a write engine (the same on PostgreSQL) and sessions on them.

    Example:
        >>> db = Database("sqlite:///tmp/t.db"); db.migrate()
        >>> with db.write() as s: s.add(Site(name="plant-a"))
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.read_engine = make_engine(url)
        self.write_engine = make_engine(url, immediate=True) if self.read_engine.dialect.name == "sqlite" else None
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine or self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.read_engine.dialect.name

    def migrate(self) -> None:
        """Create or upgrade the schema (idempotent)."""
        migrate(self.write_engine or self.read_engine)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction is committed at the end of the block (rolled back on an exception)."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.read_engine.dispose()
        if self.write_engine is not None:
            self.write_engine.dispose()
