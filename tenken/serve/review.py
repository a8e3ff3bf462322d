"""Operator review of findings: confirm, reject, relabel (one of the anomaly classes), comment, add a box
the detector missed. Every action records who did it and when; boxes are target pixels, xyxy."""

from __future__ import annotations

import json
import math
from typing import Literal

from tenken.configs import AnomalyClasses, load_anomaly_classes
from tenken.core.errors import InputError
from tenken.serve.db import Database
from tenken.serve.models import Finding, JobItem, utcnow

Action = Literal["confirm", "reject", "relabel", "comment", "reset"]
ACTIONS: tuple[str, ...] = ("confirm", "reject", "relabel", "comment", "reset")


class NotFoundError(InputError):
    """A finding, item, job, site or image that does not exist (or that the caller may not see): HTTP 404."""


def check_label(label: str, classes: AnomalyClasses | None = None) -> str:
    """``label`` if it is a class id of the anomaly classes (the 14 of the default set).

    Raises:
        InputError: any other label (the message lists the valid ones).
    """
    classes = classes or load_anomaly_classes()
    if label not in classes.ids:
        raise InputError(f"label {label!r} is not an anomaly class; use one of: {', '.join(classes.ids)}")
    return label


def review_finding(
    db: Database,
    finding_id: int,
    action: str,
    reviewer: str,
    label: str | None = None,
    comment: str | None = None,
) -> Finding:
    """Apply one review action to a finding and return it.

    ``confirm`` / ``reject`` set the status; ``relabel`` sets the operator's label (and confirms the finding);
    ``comment`` only stores the comment; ``reset`` puts it back to pending. A ``comment`` given with any action
    is stored too.

    Raises:
        NotFoundError: no such finding.
        InputError: an unknown action, or relabel without a valid class id.
    """
    if action not in ACTIONS:
        raise InputError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if action == "relabel":
        if not label:
            raise InputError("relabel needs a label (an anomaly class id)")
        check_label(label)
    with db.write() as s:
        f = s.get(Finding, finding_id)
        if f is None:
            raise NotFoundError(f"finding {finding_id} not found")
        if action in ("confirm", "reject"):
            f.status = "confirmed" if action == "confirm" else "rejected"
        elif action == "relabel":
            f.reviewed_label = label if label != f.label else None
            f.status = "confirmed"
        elif action == "reset":
            f.status, f.reviewed_label = "pending", None
        if comment is not None:
            f.comment = comment.strip() or None
        f.reviewer = reviewer
        f.reviewed_at = utcnow()
    return f


def add_finding(
    db: Database,
    item_id: int,
    box: list[float],
    label: str,
    reviewer: str,
    comment: str | None = None,
) -> Finding:
    """Add a box the detector missed to an item (confirmed, ``origin="operator"``).

    Args:
        box: ``[x1, y1, x2, y2]`` in target pixels (after EXIF orientation), inside the image, positive size.

    Raises:
        NotFoundError: no such item.
        InputError: a bad box or label, or an item that has no report yet.
    """
    check_label(label)
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InputError(f"box must be 4 finite numbers [x1, y1, x2, y2], got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    with db.write() as s:
        item = s.get(JobItem, item_id)
        if item is None:
            raise NotFoundError(f"item {item_id} not found")
        if item.report is None:
            raise InputError(f"item {item_id} has no report yet (status {item.status})")
        target = json.loads(item.report)["target"]
        w, h = target["width"], target["height"]
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise InputError(f"box {[x1, y1, x2, y2]} is not inside the {w}x{h} target with x1 < x2 and y1 < y2")
        f = Finding(
            item_id=item_id,
            job_id=item.job_id,
            x1=x1,
            y1=y1,
            x2=x2,
            y2=y2,
            label=label,
            score=None,
            source="operator",
            origin="operator",
            status="confirmed",
            comment=(comment or "").strip() or None,
            reviewer=reviewer,
            reviewed_at=utcnow(),
        )
        s.add(f)
        s.flush()
    return f
