"""``tenken serve`` (the inspection service, its workers, admin keys) and ``tenken serve-model`` (an
OpenAI-compatible endpoint over a local VLM)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tenken.cli.output import JsonFlag, console, emit, err_console

if TYPE_CHECKING:
    from tenken.serve.settings import ServeSettings

app = typer.Typer(
    name="serve",
    help=(
        "The inspection service: an HTTP API and review page for uploads, inspection jobs, operator review "
        "and exports, with worker processes.\n\n"
        "Examples:\n\n"
        "  tenken serve admin-key --data /srv/tenken          # print a new admin key (once)\n\n"
        "  tenken serve --data /srv/tenken --workers 2        # http://127.0.0.1:8000/review\n\n"
        "  tenken serve --db postgresql+psycopg://u:p@db/tenken --host 0.0.0.0 --workers 4\n\n"
        "  tenken serve worker --data /srv/tenken             # one more worker (another machine, same DB)"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)

DataOpt = Annotated[
    Path, typer.Option("--data", envvar="TENKEN_SERVE_DATA_DIR", help="Folder for the database and images.")
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="TENKEN_SERVE_DATABASE_URL", help="Database URL (default: SQLite in --data; PostgreSQL by URL)."
    ),
]


def _settings(data: Path, db: str | None, **more: object) -> ServeSettings:
    from tenken.core.errors import require_module

    require_module("sqlalchemy", "serve", "tenken serve")
    from tenken.serve.settings import ServeSettings

    return ServeSettings.from_env(data_dir=data, database_url=db, **more)


@app.callback()
def run(
    ctx: typer.Context,
    data: DataOpt = Path("tenken-data"),
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Worker processes to run beside the API.")] = 1,
    import_root: Annotated[
        list[Path] | None, typer.Option("--import-root", help="Server folder admins may register references from.")
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="Browser origin allowed cross-site (default: none).")
    ] = None,
    max_upload_mb: Annotated[float | None, typer.Option("--max-upload-mb", help="Largest request body, MB.")] = None,
    max_pixels: Annotated[int | None, typer.Option("--max-pixels", help="Largest image, pixels.")] = None,
) -> None:
    """Run the API and its workers (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    from tenken.serve.service import serve

    settings = _settings(
        data,
        db,
        import_roots=import_root or None,
        cors_origins=cors_origin or None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024) if max_upload_mb else None,
        max_pixels=max_pixels,
    )
    err_console.print(f"tenken serve: http://{host}:{port}/review  (API docs /docs, {workers} worker(s))")
    serve(settings, host, port, workers)


@app.command("worker")
def worker(data: DataOpt = Path("tenken-data"), db: DbOpt = None) -> None:
    """Run one worker process: take jobs from the database and run them until interrupted."""
    import signal
    import threading

    from tenken.serve.worker import run_worker

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_worker(_settings(data, db), stop)
    except KeyboardInterrupt:
        stop.set()


@app.command("admin-key")
def admin_key(
    data: DataOpt = Path("tenken-data"),
    db: DbOpt = None,
    name: Annotated[str, typer.Option("--name", help="A name to recognise the key by.")] = "admin",
    as_json: JsonFlag = False,
) -> None:
    """Create an admin key and print it (it is stored hashed and cannot be shown again)."""
    from tenken.serve.db import Database
    from tenken.serve.keys import create_key

    settings = _settings(data, db)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.url)
    database.migrate()
    key, row = create_key(database, name, admin=True)
    database.dispose()
    emit({"key": key, "id": row.id, "name": name}, as_json, lambda: console.print(key, highlight=False))


def serve_model(
    model: Annotated[str, typer.Argument(help="Checkpoint directory or hub id of the VLM to serve.")],
    family: Annotated[str | None, typer.Option("--family", help="VLM family (detected from the config).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model id answered in /v1/models.")] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Requests batched into one forward.")] = 8,
    device: Annotated[str | None, typer.Option("--device", help="cuda, cuda:1 or cpu.")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="float32, bfloat16, float16.")] = None,
) -> None:
    """Serve a VLM over an OpenAI-compatible API (/v1/chat/completions with streaming, /v1/models).

    Examples:

      tenken serve-model ./checkpoints/tiny --port 8001

      tenken inspect t.jpg r.jpg --detector vlm --model openai:tiny@http://127.0.0.1:8001/v1 --family qwen2.5-vl
    """
    import uvicorn

    from tenken.serve.openai_server import create_app
    from tenken.vlm.loader import load_vlm

    options = {k: v for k, v in {"device": device, "dtype": dtype}.items() if v is not None}
    vlm = load_vlm(model, family=family, **options)
    err_console.print(f"tenken serve-model: http://{host}:{port}/v1  ({name or model})")
    uvicorn.run(create_app(vlm, name or model, max_batch=max_batch), host=host, port=port, log_level="warning")

