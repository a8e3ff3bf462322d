"""The service's tables (SQLAlchemy 2 declarative models); the schema itself is made by the Alembic
migrations in ``tenken/serve/migrations`` (a test checks the two agree).

Times are UTC. Boxes are pixel ``xyxy`` floats of the target image after EXIF orientation (tenken's one
convention). Images are referred to by the SHA-256 of their bytes (the blob store's name for them).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Site(Base):
    """A place that is inspected again and again (a plant, a substation): owns references and jobs."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the key (the key itself is shown once, at creation)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), nullable=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Image(Base):
    """A stored image (content-addressed: ``sha256`` of its bytes names the blob file)."""

    __tablename__ = "images"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reference(Base):
    """A reference photo of a site, with its GPS position when the file carries one (degrees, metres)."""

    __tablename__ = "reference_photos"
    __table_args__ = (UniqueConstraint("site_id", "image_sha", name="uq_reference_site_image"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    image_sha: Mapped[str] = mapped_column(ForeignKey("images.sha256"))
    filename: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    altitude_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """An inspection job: one target or a whole flight, run by one worker at a time under a lease.

    ``status``: queued -> running -> done | failed. ``lease_expires`` is epoch seconds; a running job whose
    lease has expired (its worker died) is taken again by the next worker that asks.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    detector: Mapped[str] = mapped_column(String(16), default="classical")
    model: Mapped[str | None] = mapped_column(String(500), nullable=True)
    family: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lang: Mapped[str] = mapped_column(String(2), default="ja")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    items: Mapped[list[JobItem]] = relationship(back_populates="job", order_by="JobItem.position")


class JobItem(Base):
    """One target of a job. ``status``: pending -> done | failed; ``report`` is the ``tenken.report/1`` JSON."""

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "position", name="uq_item_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    target_sha: Mapped[str] = mapped_column(ForeignKey("images.sha256"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    reference_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    aligned_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    annotated_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    job: Mapped[Job] = relationship(back_populates="items")
    findings: Mapped[list[Finding]] = relationship(back_populates="item", order_by="Finding.id")


class Finding(Base):
    """A box on a target: found by a detector (``origin="model"``) or added by an operator (``"operator"``).

    ``status``: pending | confirmed | rejected. ``label`` is what the model said; ``reviewed_label`` what the
    operator set (None: unchanged). Box in target pixels, xyxy.
    """

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(100))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(50))
    origin: Mapped[str] = mapped_column(String(16), default="model")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reviewed_label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    item: Mapped[JobItem] = relationship(back_populates="findings")

    @property
    def final_label(self) -> str:
        """The operator's label when set, else the model's."""
        return self.reviewed_label or self.label

    @property
    def box(self) -> list[float]:
        """``[x1, y1, x2, y2]`` target pixels."""
        return [self.x1, self.y1, self.x2, self.y2]
