"""Sites' reference archives: store uploaded or registered photos, read their GPS, build the GPS index.

Registering a folder reads files only under the server's configured import roots; any other path (``..``,
a symlink out of a root, an absolute path elsewhere) is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenken.align.retrieve import ReferenceIndex
from tenken.align.telemetry import read_telemetry
from tenken.core.errors import InputError, TenkenError
from tenken.serve.blobs import BlobStore, StoredImage
from tenken.serve.db import Database
from tenken.serve.models import Image, Reference
from tenken.serve.settings import ServeSettings

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})
"""Files a folder registration looks at (their content is still sniffed)."""


def safe_name(name: str | None, fallback: str) -> str:
    """The last component of an uploaded file's name (no folders, no control characters, <= 200 chars)."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return (base or fallback)[:200]


def record_image(db: Database, stored: StoredImage) -> None:
    """Insert the ``images`` row of a stored blob (nothing happens when it is already there)."""
    values = {
        "sha256": stored.sha256,
        "media_type": stored.media_type,
        "width": stored.width,
        "height": stored.height,
        "size_bytes": stored.size_bytes,
    }
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    with db.write() as s:
        s.execute(insert(Image).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def store_image(db: Database, blobs: BlobStore, data: bytes, name: str, settings: ServeSettings) -> StoredImage:
    """Check, store and record an uploaded image (see :meth:`BlobStore.put_image` for the checks)."""
    stored = blobs.put_image(data, name, settings.max_pixels)
    record_image(db, stored)
    return stored


def add_reference(
    db: Database, blobs: BlobStore, site_id: int, data: bytes, filename: str, settings: ServeSettings
) -> Reference:
    """Add one reference photo to a site (the same photo twice is stored once; the existing row is returned)."""
    stored = store_image(db, blobs, data, filename, settings)
    tel = read_telemetry(blobs.path(stored.sha256), [])
    with db.write() as s:
        row = s.execute(
            select(Reference).where(Reference.site_id == site_id, Reference.image_sha == stored.sha256)
        ).scalar()
        if row is None:
            row = Reference(
                site_id=site_id,
                image_sha=stored.sha256,
                filename=filename,
                latitude=tel.latitude if tel else None,
                longitude=tel.longitude if tel else None,
                altitude_m=tel.altitude_m if tel else None,
            )
            s.add(row)
            s.flush()
    return row


@dataclass
class FolderResult:
    """What registering a folder did: the references added (or already there) and the files skipped, why."""

    references: list[Reference] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def resolve_import_folder(folder: str, settings: ServeSettings) -> Path:
    """``folder`` resolved (symlinks followed), if it lies inside one of ``settings.import_roots``.

    Raises:
        InputError: no import roots are configured, the folder is outside them, or it is not a folder.
    """
    if not settings.import_roots:
        raise InputError("registering server folders is off: start the server with --import-root DIR")
    try:
        path = Path(folder).expanduser()
        if not path.is_absolute():
            path = settings.import_roots[0] / path
        path = path.resolve()
        inside = any(path == root or path.is_relative_to(root) for root in settings.import_roots)
        is_dir = inside and path.is_dir()
    except (OSError, RuntimeError, ValueError) as exc:  # a name too long, a symlink loop, a NUL
        raise InputError(f"{folder[:200]}: not a usable folder path ({type(exc).__name__})") from None
    if not inside:
        raise InputError(f"{folder}: outside the import roots ({', '.join(map(str, settings.import_roots))})")
    if not is_dir:
        raise InputError(f"{folder}: not a folder")
    return path


def register_folder(db: Database, blobs: BlobStore, site_id: int, folder: str, settings: ServeSettings) -> FolderResult:
    """Add every image file of a server folder (not recursive) under the import roots to a site's archive.

    Files that are not accepted images are skipped and listed with the reason; symlinks leading out of the
    import roots are skipped.
    """
    root = resolve_import_folder(folder, settings)
    out = FolderResult()
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        real = p.resolve()
        if not any(real.is_relative_to(r) for r in settings.import_roots):
            out.skipped.append({"file": p.name, "reason": "symlink out of the import roots"})
            continue
        try:
            out.references.append(add_reference(db, blobs, site_id, real.read_bytes(), p.name, settings))
        except (TenkenError, OSError) as exc:
            out.skipped.append({"file": p.name, "reason": str(exc)})
    return out


@dataclass
class SiteArchive:
    """A site's references as the pipeline wants them: blob paths, their file names, and the GPS index
    (``index`` None when no reference has a position: every reference is then a candidate)."""

    paths: list[str]
    names: dict[str, str]
    index: ReferenceIndex | None


def site_archive(db: Database, blobs: BlobStore, site_id: int) -> SiteArchive:
    """Load a site's reference archive (paths of the stored files, GPS index of those with a position)."""
    with db.read() as s:
        rows = s.execute(select(Reference).where(Reference.site_id == site_id).order_by(Reference.id)).scalars().all()
    paths = [str(blobs.path(r.image_sha)) for r in rows]
    names = {str(blobs.path(r.image_sha)): r.filename for r in rows}
    located = [(str(blobs.path(r.image_sha)), r) for r in rows if r.latitude is not None and r.longitude is not None]
    index = None
    if located:
        index = ReferenceIndex.from_arrays(
            [p for p, _ in located],
            [r.latitude for _, r in located],
            [r.longitude for _, r in located],
            [r.altitude_m or 0.0 for _, r in located],
        )
    return SiteArchive(paths, names, index)
