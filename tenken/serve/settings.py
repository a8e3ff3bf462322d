"""Settings of the inspection service (``tenken serve``): where data lives, which database, the limits.

Every field can be set from the environment (``TENKEN_SERVE_<FIELD>``, e.g. ``TENKEN_SERVE_DATABASE_URL``) or
from the CLI; :meth:`ServeSettings.from_env` reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from tenken.core.errors import InputError


@dataclass
class ServeSettings:
    """Configuration of one service instance (the API process and its workers share it).

    Attributes:
        data_dir: folder of the database (SQLite default), the content-addressed images (``blobs/``) and each
            job's ``results.jsonl`` (``jobs/<id>/``).
        database_url: SQLAlchemy URL; None: ``sqlite:///<data_dir>/tenken.db`` (WAL mode). PostgreSQL:
            ``postgresql+psycopg://user:pass@host/db``.
        max_upload_bytes: largest request body accepted (HTTP 413 above it), bytes.
        max_pixels: largest image accepted (width x height), pixels; larger uploads get HTTP 413.
        import_roots: server folders an admin may register references from (nothing else is readable).
        cors_origins: browser origins allowed to call the API from another site (empty: CORS off).
        upload_rate: uploads per second each API key may sustain (token bucket), with ``upload_burst`` in a row.
        lease_seconds: how long a worker's claim on a job lasts without a heartbeat (a killed worker's job is
            taken again after at most this long).
        max_attempts: a job whose workers died this many times is marked failed instead of retried.
    """

    data_dir: Path = field(default_factory=lambda: Path("tenken-data"))
    database_url: str | None = None
    max_upload_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 100_000_000
    import_roots: list[Path] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    upload_rate: float = 20.0
    upload_burst: int = 60
    lease_seconds: float = 30.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        self.import_roots = [Path(p).expanduser().resolve() for p in self.import_roots]
        if self.max_upload_bytes <= 0 or self.max_pixels <= 0:
            raise InputError("max_upload_bytes and max_pixels must be positive")
        if self.lease_seconds <= 0 or self.max_attempts < 1:
            raise InputError("lease_seconds must be positive and max_attempts at least 1")

    @property
    def url(self) -> str:
        """The database URL in force (the SQLite file in ``data_dir`` when none was given)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'tenken.db').resolve()}"

    @classmethod
    def from_env(cls, **overrides: object) -> ServeSettings:
        """Settings from ``TENKEN_SERVE_*`` variables, then ``overrides`` (None values are ignored).

        Lists (``IMPORT_ROOTS``, ``CORS_ORIGINS``) are separated by commas.

        Raises:
            InputError: a variable cannot be converted to its field's type.
        """
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"TENKEN_SERVE_{f.name.upper()}")
            if raw is None:
                continue
            kind = str(f.type)
            try:
                if "list" in kind:
                    values[f.name] = [p.strip() for p in raw.split(",") if p.strip()]
                elif kind.startswith("int"):
                    values[f.name] = int(raw)
                elif kind.startswith("float"):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise InputError(f"TENKEN_SERVE_{f.name.upper()}={raw!r} is not a valid {kind}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
