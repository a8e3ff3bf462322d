"""API keys: random 256-bit secrets, stored only as their SHA-256, each scoped to one site or admin.

A fast hash is the right one here (unlike passwords): a key has 256 bits of entropy, so it cannot be guessed
from its hash however fast the hash is, and the lookup is one indexed equality on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from tenken.serve.db import Database
from tenken.serve.models import ApiKey

KEY_PREFIX = "tk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name, the site it may use (None: every site, for admins), admin flag."""

    key_id: int
    name: str
    site_id: int | None
    admin: bool

    def may_use(self, site_id: int) -> bool:
        """True when this key may read and write site ``site_id``."""
        return self.admin or self.site_id == site_id


def hash_key(key: str) -> str:
    """The stored form of a key (hex SHA-256 of its UTF-8 text)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(db: Database, name: str, site_id: int | None = None, admin: bool = False) -> tuple[str, ApiKey]:
    """Make a new key; returns ``(the key, its row)``. The key is not stored and cannot be shown again."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(key), prefix=key[:10], site_id=site_id, admin=admin)
    with db.write() as s:
        s.add(row)
        s.flush()
    return key, row


def authenticate(db: Database, key: str | None) -> Principal | None:
    """The principal of ``key``; None for a missing, unknown or revoked key."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    with db.read() as s:
        row = s.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked.is_(False))).scalar()
    if row is None:
        return None
    return Principal(row.id, row.name, row.site_id, row.admin)
