"""The ``tenken`` command line: a thin shell over the Python API, one verb per public operation.

Each verb group lives in its own module with a ``register(app)`` function; heavy libraries are imported
inside the commands so ``tenken --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tenken import __version__
from tenken.cli import align, config, eval, inspect, train, vlm
from tenken.cli.output import TenkenGroup

app = typer.Typer(
    name="tenken",
    cls=TenkenGroup,
    help=(
        "tenken (点検): VLM field inspection. Align a target photo with reference photos of the same place, "
        "find what changed, label it, and report where — plus VQA, grounding, counting and evaluation.\n\n"
        "Every command takes --json for machine-readable output. Run `tenken COMMAND --help` for examples."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tenken {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    """tenken (点検): vision-language-model field inspection."""


for _module in (inspect, align, vlm, eval, config, train):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="tenken")
