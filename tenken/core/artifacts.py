"""Artifact I/O: the one place where tenken reads and writes JSON, JSONL and files that must not tear.

Every reader and writer in the package goes through these functions, so they share one set of rules:

- **JSON text** (:func:`json_text`): UTF-8 with non-ASCII kept readable (``ensure_ascii=False``); numpy arrays
  and scalars become lists and numbers; pydantic models are dumped by alias; dataclasses with ``to_dict()``
  use it; paths become strings; **NaN and infinities become ``null``** (JSON has no NaN, and a score that is not
  known is ``null`` in every tenken file).
- **Atomic replace** (:func:`write_atomic`, :func:`write_json`, :func:`write_jsonl`): the new content goes to a
  temporary file in the same folder, is flushed and fsync'ed, then renamed over the old one, so a reader (or a
  crash) sees the old file or the new one, never half of either.
- **Append** (:class:`JsonlAppender`): one whole line per call, flushed and fsync'ed, so a run killed at any
  moment loses no finished line and leaves at most one trailing partial line, which :func:`complete_lines`
  cuts off before a run resumes.
- **Read** (:func:`iter_jsonl`, :func:`read_jsonl`): one JSON object per line; blank lines ignored; a malformed
  line, a non-object line or non-UTF-8 bytes are recorded in a :class:`LoadReport` with file, line number and
  reason, never silently dropped and never fatal. A ``.json`` file is read as one document (an object or a list
  of objects), so a pretty-printed ``report.json`` reads like a one-line JSONL file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import orjson

from tenken.core.errors import InputError, describe_json_error

# -- JSON encoding -----------------------------------------------------------------------------------------


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if hasattr(obj, "model_dump"):  # pydantic
        return jsonable(obj.model_dump(mode="json", by_alias=True))
    if callable(getattr(obj, "to_dict", None)):
        return jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(jsonable(list(obj)), key=str)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def jsonable(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, ±inf) replaced by ``None``, recursively through dicts, lists
    and tuples (tuples become lists). Other values are returned as they are."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = None) -> str:
    """JSON text of ``obj`` by tenken's rules (see the module docstring): NaN -> null, numpy and pydantic
    values converted, non-ASCII kept. ``indent=None`` gives one line (for JSONL)."""
    return json.dumps(jsonable(obj), default=_default, ensure_ascii=False, indent=indent, allow_nan=False)


# -- writing -----------------------------------------------------------------------------------------------


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically: readers see the old file or the
    new one, never a mix. Parent folders are created. Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as one JSON document (pretty-printed by default, newline-terminated), atomically."""
    return write_atomic(path, json_text(obj, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write ``rows`` as JSON Lines (one object a line), replacing ``path`` atomically."""
    return write_atomic(path, "".join(json_text(r) + "\n" for r in rows))


class JsonlAppender:
    """Append JSON lines to a file, each written whole, flushed and fsync'ed before :meth:`write` returns.

    Use as a context manager::

        with JsonlAppender(out / "results.jsonl") as log:
            log.write({"id": "a", ...})

    Thread-safe for one writer object shared by worker threads only when the caller serialises calls (the run
    engine writes from one thread).
    """

    def __init__(self, path: str | os.PathLike, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fh: TextIO | None = None

    def __enter__(self) -> JsonlAppender:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def write(self, obj: Any) -> None:
        """Append ``obj`` as one line (by :func:`json_text`), durable on disk when this returns."""
        if self._fh is None:
            raise RuntimeError("JsonlAppender.write outside its 'with' block")
        self._fh.write(json_text(obj) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# -- reading -----------------------------------------------------------------------------------------------


@dataclass
class Skipped:
    """One skipped line or item: ``source`` file, 1-based ``line`` (None for whole-file issues), ``id``, reason."""

    source: str
    line: int | None
    id: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where} (id {self.id!r}): {self.reason}" if self.id is not None else f"{where}: {self.reason}"


@dataclass
class LoadReport:
    """What a reader skipped (with reasons), which expected ids were missing, and notes on reading the result
    (e.g. ground truth without labels). Readers fill one; callers show or store it."""

    skipped: list[Skipped] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, source: str | os.PathLike, line: int | None, id: Any, reason: str) -> None:
        """Record one skipped item."""
        self.skipped.append(Skipped(os.fspath(source), line, None if id is None else str(id), reason))

    def extend(self, other: LoadReport) -> None:
        """Add another report's entries."""
        self.skipped.extend(other.skipped)
        self.missing.extend(other.missing)
        self.notes.extend(other.notes)

    @property
    def clean(self) -> bool:
        """True when nothing was skipped and nothing was missing."""
        return not self.skipped and not self.missing

    def to_dict(self) -> dict[str, Any]:
        """``{"n_skipped", "skipped": [{source, line, id, reason}], "n_missing", "missing": [ids], "notes"}``."""
        return {
            "n_skipped": len(self.skipped),
            "skipped": [dataclasses.asdict(s) for s in self.skipped],
            "n_missing": len(self.missing),
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


def _check_file(p: Path) -> None:
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a JSONL file")
    if not p.is_file():
        raise InputError(f"{p}: file not found")


def iter_jsonl(path: str | os.PathLike, report: LoadReport | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each JSON-object line of ``path`` (1-based line numbers).

    Blank lines are ignored; malformed JSON, non-object lines and non-UTF-8 bytes are recorded in ``report``
    (when given) and skipped. A ``.json`` file is read as one document: an object, or a list of objects
    (``line`` is then the 1-based position in the list).

    Raises:
        InputError: ``path`` is missing or a folder.
    """
    p = Path(path)
    _check_file(p)
    report = report if report is not None else LoadReport()
    if p.suffix.lower() == ".json":
        yield from _iter_json_document(p, report)
        return
    with p.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            obj = _parse_line(raw, n, p, report)
            if obj is not None:
                yield n, obj


def _loads(text: str) -> Any:
    """``json.loads`` semantics at orjson's speed (reading 100k-line files is most of ``tenken eval
    detection``'s time): orjson parses strict JSON; anything it refuses (NaN literals, huge integers, real
    errors) is parsed again by ``json``, so accepted input and error messages are exactly the stdlib's."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _parse_line(raw: bytes, n: int, p: Path, report: LoadReport) -> dict[str, Any] | None:
    try:
        text = raw.decode("utf-8-sig" if n == 1 else "utf-8").strip()
    except UnicodeDecodeError:
        report.skip(p, n, None, "not UTF-8 text (is this a JSONL file?)")
        return None
    if not text:
        return None
    try:
        obj = _loads(text)
    except json.JSONDecodeError as exc:
        report.skip(p, n, None, f"malformed JSON ({describe_json_error(exc)})")
        return None
    if not isinstance(obj, dict):
        report.skip(p, n, None, f"expected a JSON object, got {type(obj).__name__}")
        return None
    return obj


def _iter_json_document(p: Path, report: LoadReport) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        report.skip(p, None, None, "not UTF-8 text (is this a JSON file?)")
        return
    except json.JSONDecodeError as exc:
        report.skip(p, exc.lineno, None, f"malformed JSON ({describe_json_error(exc)})")
        return
    rows = data if isinstance(data, list) else [data]
    for n, obj in enumerate(rows, start=1):
        if isinstance(obj, dict):
            yield n, obj
        else:
            report.skip(p, n, None, f"expected a JSON object, got {type(obj).__name__}")


def read_jsonl(path: str | os.PathLike, report: LoadReport | None = None) -> list[dict[str, Any]]:
    """All JSON-object lines of ``path`` (see :func:`iter_jsonl` for what is skipped and recorded)."""
    return [obj for _, obj in iter_jsonl(path, report)]


def complete_lines(path: str | os.PathLike, repair: bool = True) -> list[dict[str, Any]]:
    """The complete JSON-object lines of an append-only file (e.g. a run's ``results.jsonl``).

    A trailing line without its newline is the mark of a run killed mid-write: it is not returned, and with
    ``repair`` it is cut off the file so appending can go on cleanly. A missing file gives ``[]``. Junk lines
    are skipped (an append-only log is read by the run that wrote it; nothing there is user input).
    """
    p = Path(path)
    if not p.is_file():
        return []
    data = p.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data) and repair:
        with p.open("r+b") as fh:
            fh.truncate(end)
    rows = []
    quiet = LoadReport()
    for n, raw in enumerate(data[:end].splitlines(), start=1):
        obj = _parse_line(raw, n, p, quiet)
        if obj is not None:
            rows.append(obj)
    return rows
