"""The ``tenken`` command line: a thin shell over the Python API, one verb per public operation.

Each verb group lives in its own module ``tenken/cli/<group>.py`` that exposes ``app = typer.Typer(...)`` with
its verbs as module-level functions (importable and testable one by one). An unnamed ``Typer()`` contributes
top-level verbs (``tenken ask``); a command group (``tenken eval run``) is added here under its name and help
panel. This module only merges them, in help order: see ``docs/architecture.md`` "CLI verbs".
Heavy libraries are imported inside the commands so ``tenken --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tenken import __version__
from tenken.cli import align, config, eval, inspect, serve, train, vlm
from tenken.cli.data import data_app
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


# Top-level verbs: each module's unnamed Typer is merged into the root, in the order of the help panels.
for _verbs in (inspect, align, vlm, config):
    app.add_typer(_verbs.app)

# Command groups: the root names them and gives their help panel (typer ignores a sub-app's own panel).
app.add_typer(eval.app, name="eval", rich_help_panel="Evaluation")
app.add_typer(data_app, name="data", rich_help_panel="Data")
app.add_typer(serve.app, name="serve", rich_help_panel="Serving")
app.command("serve-model", rich_help_panel="Serving")(serve.serve_model)
app.add_typer(train.train_app, name="train", rich_help_panel="Training")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="tenken")
