"""``tenken classes`` and ``tenken tasks``: show (and validate) the label sets a run will use.

Like every ``tenken.cli`` module, the verbs are module-level functions on this module's :data:`app`, which
``tenken.cli`` merges into the root command (see ``docs/architecture.md`` "CLI verbs").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tenken.cli.output import JsonFlag, console, emit
from tenken.configs import load_anomaly_classes, load_task_set

app = typer.Typer()
"""``tenken classes`` and ``tenken tasks`` (unnamed: merged into the root as top-level verbs)."""


@app.command("classes", rich_help_panel="Configuration")
def classes_cmd(
    file: Annotated[
        Path | None,
        typer.Option("--classes", "-c", help="A YAML/JSON class file (default: the built-in 14 classes)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """List the anomaly classes (id, English, Japanese, aliases); validates a custom file.

    Example: tenken classes --classes my_classes.yaml
    """
    cls = load_anomaly_classes(file)

    def human() -> None:
        table = Table(title=f"anomaly classes: {cls.name}")
        for col in ("id", "English", "日本語", "aliases"):
            table.add_column(col)
        for c in cls.classes:
            table.add_row(c.id, c.en, c.ja, ", ".join(c.aliases))
        console.print(table)

    emit(cls.model_dump(mode="json"), json_out, human)


@app.command("tasks", rich_help_panel="Configuration")
def tasks_cmd(
    file: Annotated[
        Path | None, typer.Option("--tasks", "-t", help="A YAML/JSON task-set file (default: the shipped example).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """List the factory tasks of a task set with their tools; validates a custom file.

    Example: tenken tasks --tasks line3_tasks.yaml --json
    """
    ts = load_task_set(file)

    def human() -> None:
        table = Table(title=f"task set: {ts.name}")
        for col in ("id", "task", "作業", "tool / 工具"):
            table.add_column(col)
        for t in ts.tasks:
            table.add_row(t.id, t.en, t.ja, f"{t.tool.en} / {t.tool.ja}")
        console.print(table)

    emit(ts.model_dump(mode="json"), json_out, human)
