"""The one progress bar of the long verbs (``tenken inspect --pairs``, ``tenken eval run``), drawn from the
run engine's callbacks (:func:`tenken.core.runs.run_items` never prints)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tenken.cli.output import err_console
from tenken.core.runs import RunEvent


@dataclass
class RunCallbacks:
    """The ``on_start`` and ``progress`` callbacks to hand to a run (both draw on the bar)."""

    on_start: Callable[[int], None]
    progress: Callable[[RunEvent[Any]], None]


@contextmanager
def run_progress(
    label: str,
    *,
    transient: bool = True,
    describe: Callable[[RunEvent[Any]], str] | None = None,
    report_error: Callable[[RunEvent[Any]], bool] | None = None,
) -> Iterator[RunCallbacks]:
    """A rich progress bar on stderr for one run; yields the callbacks that advance it.

    Args:
        label: the bar's text until the first item finishes.
        transient: remove the bar when the run ends (keep it for a human reading the summary below).
        describe: the bar's text after an item (e.g. ``"inspecting <id>"``); default: ``label``.
        report_error: for a failed item, whether to print its error above the bar (default: never).
    """
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=transient,
    ) as bar:  # fmt: skip
        task = bar.add_task(escape(label), total=None)

        def on_start(total: int) -> None:
            bar.update(task, total=total)

        def progress(event: RunEvent[Any]) -> None:
            if not event.ok and report_error is not None and report_error(event):
                message = f"{event.row.get('id')}: {event.row['error']}"
                bar.console.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
            text = describe(event) if describe is not None else label
            bar.update(task, advance=1, description=escape(text))

        yield RunCallbacks(on_start, progress)
