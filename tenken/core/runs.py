"""The resumable run engine: items in, one result line per item out, safe to kill and resume.

Every long job in tenken (inspection batches, benchmark predictions, data-engine recipes, curation) runs its
items through :func:`run_items`, so they all follow one policy:

- **One line per item** in a JSONL results file, keyed by the item's ``id``. A successful item's line is what
  the work function returned (with ``id`` set); a failed item's line is ``{"id", "error", ...}`` where
  ``error`` says what went wrong (a :class:`~tenken.core.errors.TenkenError`'s message as it is, any other
  exception as ``"unexpected <Type>: <message>"``). One failing item never stops the run.
- **Durable**: each line is appended whole, flushed and fsync'ed as soon as its item finishes
  (:class:`~tenken.core.artifacts.JsonlAppender`), so a run killed at any moment loses no finished item.
- **Resume** (``resume=True``): the results file is kept; a trailing partial line (a kill mid-write) is cut
  off; items that already have a success line are skipped; items whose line is an error are **retried**
  (errors are often transient: a server down, a file not yet copied); before new work starts the file is
  compacted atomically to the success lines (in item order; their old error lines dropped), so a resumed file
  ends with exactly one line per item.
- **Fresh start** (``resume=False``): an existing results file is moved to ``<name>.bak`` (replacing an older
  backup) with nothing deleted, so a forgotten ``--resume`` never wipes a long run's results.
- **Shards** (``shard=(I, N)``): only the items at positions ``I, I+N, I+2N, ...`` (0-based, input order), so N
  processes or machines with their own results files split one item list without talking to each other.
- **Progress** goes through callbacks (``on_start(total)``, ``progress(event)``); the engine never prints.
- **Workers**: ``workers > 1`` runs items in threads (for work that waits on a server); lines are written in
  finishing order by the calling thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from tenken.core.artifacts import JsonlAppender, complete_lines, write_jsonl
from tenken.core.errors import InputError, TenkenError

T = TypeVar("T")


@dataclass(frozen=True)
class RunEvent(Generic[T]):
    """What a progress callback receives after each item: the item, its line, and the running counts."""

    item: T
    row: dict[str, Any]
    done: int
    failed: int
    total: int

    @property
    def ok(self) -> bool:
        """True when the item succeeded (its line has no ``error``)."""
        return "error" not in self.row


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        path: the results file.
        total: items this run was given after sharding.
        skipped: items already done by an earlier run (resume).
        done: items that succeeded in this run.
        failed: items that failed in this run (their error lines are in the file).
        retried: items that had an error line from an earlier run and were run again.
        previous: where an earlier results file was moved on a fresh start (``<name>.bak``), else None.
        seconds: wall time of the work (not counting reading the earlier results).
    """

    path: Path
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    previous: Path | None = None
    seconds: float = 0.0


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N`` (None stays None).

    Raises:
        InputError: anything else.
    """
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise InputError(f"--shard expects I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def select_shard(items: Sequence[T], shard: tuple[int, int] | None) -> list[T]:
    """The items of shard ``(I, N)``: positions ``I, I+N, ...`` (all items when ``shard`` is None)."""
    if shard is None:
        return list(items)
    i, n = shard
    return [it for k, it in enumerate(items) if k % n == i]


def error_message(exc: BaseException) -> str:
    """The ``error`` text of a failed item: a TenkenError's own message, else ``unexpected <Type>: <msg>``."""
    if isinstance(exc, TenkenError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def prior_results(
    path: Path, ids: Sequence[str], resume: bool
) -> tuple[dict[str, dict[str, Any]], set[str], Path | None]:
    """Prepare a results file for a run; return ``({id: success line}, {ids whose line is an error}, backup)``.

    With ``resume``: the file is compacted (atomically) to the success line of each id of ``ids`` that has one,
    in the order of ``ids``; error lines of ``ids`` are dropped (those items run again and write a new line);
    lines of other ids are kept after them, one per id (another shard's or an earlier item list's results are
    never thrown away). Without: an existing file is moved to ``.bak``.
    """
    if not resume:
        if path.exists():
            backup = path.with_name(path.name + ".bak")
            path.replace(backup)
            return {}, set(), backup
        return {}, set(), None
    rows = complete_lines(path, repair=True)
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        rid = str(row.get("id"))
        if rid not in best or "error" in best[rid]:  # the first success wins; an error gives way to any later line
            best[rid] = row
    wanted = set(ids)
    done = {i: best[i] for i in dict.fromkeys(ids) if i in best and "error" not in best[i]}
    failed = {i for i in wanted if i in best and "error" in best[i]}
    others = [r for k, r in best.items() if k not in wanted]
    if rows and len(done) + len(others) != len(rows):
        write_jsonl(path, [*done.values(), *others])
    return done, failed, None


def run_items(
    items: Sequence[T],
    work: Callable[[T], dict[str, Any]],
    results: str | Path,
    *,
    key: Callable[[T], str],
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    workers: int = 1,
    error_row: Callable[[T, str], dict[str, Any]] | None = None,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[RunEvent[T]], None] | None = None,
) -> RunSummary:
    """Run ``work`` on each item not yet done and append one line per item to ``results`` (policy: module doc).

    Args:
        items: the whole item list (before sharding), in a stable order.
        work: ``item -> dict`` of the item's result fields (its ``id`` is set by the engine). Raising fails
            that item only.
        results: the JSONL results file (its folder is created).
        key: ``item -> id`` (unique per item).
        resume: keep earlier results and do only what is missing or failed; else start afresh (old file kept
            as ``.bak``).
        shard: ``(I, N)``: only positions ``I, I+N, ...``.
        workers: items run at once in threads (1: in the calling thread).
        error_row: ``(item, message) -> dict`` of extra fields for a failed item's line (e.g. its input path).
        on_start: called once with the number of items this run will do.
        progress: called after each item with a :class:`RunEvent`.

    Returns:
        A :class:`RunSummary`.
    """
    path = Path(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = select_shard(items, shard)
    ids = [key(it) for it in mine]
    done_rows, had_error, backup = prior_results(path, ids, resume)
    todo = [it for it, i in zip(mine, ids, strict=True) if i not in done_rows]
    summary = RunSummary(path, total=len(mine), skipped=len(mine) - len(todo), previous=backup)
    summary.retried = sum(1 for i in ids if i in had_error)
    if on_start is not None:
        on_start(len(todo))

    def one(item: T) -> dict[str, Any]:
        try:
            fields = work(item)
            return {"id": key(item), **{k: v for k, v in fields.items() if k != "id"}}
        except Exception as exc:  # one failing item must not end the run; it is recorded
            message = error_message(exc)
            extra = error_row(item, message) if error_row is not None else {}
            return {"id": key(item), **extra, "error": message}

    t0 = time.perf_counter()
    with JsonlAppender(path) as log:

        def record(item: T, row: dict[str, Any]) -> None:
            log.write(row)
            if "error" in row:
                summary.failed += 1
            else:
                summary.done += 1
            if progress is not None:
                progress(RunEvent(item, row, summary.done, summary.failed, len(todo)))

        if workers <= 1:
            for item in todo:
                record(item, one(item))
        else:
            _run_threaded(todo, one, record, workers)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_threaded(
    todo: Sequence[T],
    one: Callable[[T], dict[str, Any]],
    record: Callable[[T, dict[str, Any]], None],
    workers: int,
) -> None:
    """Keep at most ``2 * workers`` items in flight (bounded memory on long lists); record as they finish."""
    pending: dict[Future[dict[str, Any]], T] = {}
    queue = iter(todo)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for item in queue:
                pending[pool.submit(one, item)] = item
                if len(pending) >= 2 * workers:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        record(pending.pop(fut), fut.result())
            for fut in as_completed(list(pending)):
                record(pending.pop(fut), fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
