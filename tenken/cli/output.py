"""Shared CLI conventions: the ``--json`` switch, consoles, and errors without tracebacks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from tenken.core.artifacts import json_text
from tenken.core.errors import TenkenError

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead of a summary.")]


def to_json_text(obj: Any, indent: int | None = 2) -> str:
    """JSON text for CLI output (pretty by default): :func:`tenken.core.artifacts.json_text`'s rules."""
    return json_text(obj, indent=indent)


def emit(obj: Any, as_json: bool, human: Callable[[], None]) -> None:
    """Print ``obj`` as JSON when ``as_json``, else call ``human()`` to print a summary."""
    if as_json:
        sys.stdout.write(to_json_text(obj) + "\n")
    else:
        human()


class TenkenGroup(TyperGroup):
    """Root command group: a :class:`TenkenError` becomes a one-line red message and exit code 2.

    ``tenken --debug ...`` shows the full traceback instead.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """Accept ``--debug`` anywhere before a ``--`` (``tenken align a.jpg b.jpg --debug`` too)."""
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug", *(a for i, a in enumerate(args) if not (a == "--debug" and i < end))]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TenkenError as exc:
            if ctx.params.get("debug"):
                raise
            # one line in logs; the message is data (paths may hold brackets), never rich markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
