"""Run the service: the API under uvicorn plus N worker processes, restarted when they die.

Workers are separate processes (``spawn``), so a crash or a kill of one loses at most the item it was on:
its job's lease expires and a worker takes the job up again (see :mod:`tenken.serve.queue`).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
from typing import Any

from tenken.serve.settings import ServeSettings
from tenken.serve.worker import run_worker


def _worker_main(settings: ServeSettings) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(settings, stop)


class WorkerPool:
    """``n`` worker processes kept alive by a supervising thread (a dead one is replaced within a second)."""

    def __init__(self, settings: ServeSettings, n: int) -> None:
        self.settings, self.n = settings, n
        self._ctx = mp.get_context("spawn")
        self.processes: list[Any] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="worker-pool")

    def _spawn(self) -> Any:
        p = self._ctx.Process(target=_worker_main, args=(self.settings,), daemon=True, name="tenken-worker")
        p.start()
        return p

    def start(self) -> WorkerPool:
        """Start the workers and their supervisor."""
        self.processes = [self._spawn() for _ in range(self.n)]
        self._thread.start()
        return self

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            for i, p in enumerate(self.processes):
                if not p.is_alive() and not self._stop.is_set():
                    self.processes[i] = self._spawn()
                    self.restarts += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop after its current item, then end those still running."""
        self._stop.set()
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(timeout)
            if p.is_alive():
                p.kill()


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the API on ``host:port`` with ``workers`` worker processes until interrupted.

    The database is migrated before anything starts; queued and interrupted jobs are taken up by the workers.
    """
    import uvicorn

    from tenken.serve.app import create_app
    from tenken.serve.db import Database

    db = Database(settings.url)
    db.migrate()
    pool = WorkerPool(settings, workers).start() if workers > 0 else None
    try:
        uvicorn.run(create_app(settings, db), host=host, port=port, log_level="warning", proxy_headers=False)
    finally:
        if pool is not None:
            pool.stop()
        db.dispose()
