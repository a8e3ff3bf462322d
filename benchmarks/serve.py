"""Benchmark of ``tenken serve`` under load, calm and with failures (issue 14 proof).

    python benchmarks/serve.py                      # SQLite (default), both scenarios, ~5 min on 2 cores
    python benchmarks/serve.py --db postgresql+psycopg://user@127.0.0.1:5432/bench --uploads 200

The API runs as ``python -m tenken serve --workers 0`` and two ``python -m tenken serve worker`` processes on
loopback, all on one data folder. The client uploads N targets at once (one job each, N requests in flight),
and while the workers run them, 8 client tasks call the status (``GET /jobs/{id}``) and review
(``POST /findings/{id}/review``) endpoints as fast as they are answered; their latencies are measured.

- ``calm``: nothing fails.
- ``chaos``: a worker is killed with SIGKILL twice mid-run (each replaced by a new worker process at once, as
  ``tenken serve``'s supervisor does), and the API server is stopped and started again once.

Checked at the end, from the database and the job folders: every job ``done`` (0 lost), every item's
findings exactly the report's detections and one ``results.jsonl`` line per job (0 duplicated).
Prints a table and writes ``benchmarks/results/serve.json`` (``serve_postgresql.json`` with ``--db``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.serve.db import Database  # noqa: E402
from tenken.serve.keys import create_key  # noqa: E402
from tenken.serve.models import Finding, Job, JobItem, Site  # noqa: E402

EXAMPLE = REPO / "examples" / "walkway"
LEASE_SECONDS = 5


def _jpeg(path: Path, width: int, mark: int | None = None) -> bytes:
    im = Image.open(path).convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)))
    if mark is not None:  # a unique file per upload (content-addressed storage would otherwise share them)
        a = np.asarray(im).copy()
        a[0, 0] = [mark % 256, (mark // 256) % 256, 7]
        im = Image.fromarray(a)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The API process and the worker processes of one scenario."""

    def __init__(self, data: Path, db: str | None, port: int) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "TENKEN_SERVE_LEASE_SECONDS": str(LEASE_SECONDS),
                    "TENKEN_SERVE_UPLOAD_RATE": "1000", "TENKEN_SERVE_UPLOAD_BURST": "1000"}  # fmt: skip
        self.args = ["--data", str(data), *(["--db", db] if db else [])]
        self.port = port
        self.api: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.log = open(data / "processes.log", "ab")  # noqa: SIM115 - kept open for the processes' lifetime

    def _spawn(self, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "tenken", "serve", *args]
        return subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=self.log, stderr=self.log)

    def start_api(self) -> None:
        self.api = self._spawn(*self.args, "--workers", "0", "--port", str(self.port))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the API did not start")

    def stop_api(self) -> None:
        assert self.api is not None
        self.api.send_signal(signal.SIGINT)
        self.api.wait(30)

    def start_worker(self) -> None:
        self.workers.append(self._spawn("worker", *self.args))

    def kill_worker(self) -> int:
        victim = self.workers.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.start_worker()
        return victim.pid

    def stop(self) -> None:
        for p in [*self.workers, *([self.api] if self.api else [])]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, *([self.api] if self.api else [])]:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.array(values) * 1000, q))


async def _scenario(name: str, n: int, width: int, db_url: str | None, chaos: bool) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix=f"tenken-bench-{name}-"))
    url = db_url or f"sqlite:///{data / 'tenken.db'}"
    db = Database(url)
    db.migrate()
    with db.write() as s:
        site = Site(name=f"bench-{name}")
        s.add(site)
        s.flush()
        site_id = site.id
    key, _ = create_key(db, "bench", site_id=site_id)
    cluster = Cluster(data, db_url, _free_port())
    base = f"http://127.0.0.1:{cluster.port}/api/v1"
    headers = {"X-API-Key": key}
    events: list[str] = []
    cluster.start_api()
    for _ in range(2):
        cluster.start_worker()
    limits = httpx.Limits(max_connections=n + 16, max_keepalive_connections=n + 16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:
        reference = _jpeg(EXAMPLE / "reference.jpg", width)
        r = await client.post(f"/sites/{site_id}/references", files=[("files", ("reference.jpg", reference))])
        r.raise_for_status()
        targets = [_jpeg(EXAMPLE / "target.jpg", width, i) for i in range(n)]
        upload_s: list[float] = []

        async def upload(i: int) -> int:
            t0 = time.perf_counter()
            resp = await client.post(f"/sites/{site_id}/jobs", files=[("files", (f"t{i:04d}.jpg", targets[i]))])
            resp.raise_for_status()
            upload_s.append(time.perf_counter() - t0)
            return resp.json()["id"]

        t_start = time.perf_counter()
        job_ids = await asyncio.gather(*(upload(i) for i in range(n)))
        t_uploaded = time.perf_counter() - t_start
        status_s: list[float] = []
        review_s: list[float] = []
        failed_calls = 0
        stop = asyncio.Event()

        async def load() -> None:
            nonlocal failed_calls
            rng = random.Random()
            while not stop.is_set():
                try:
                    t0 = time.perf_counter()
                    job = (await client.get(f"/jobs/{rng.choice(job_ids)}")).raise_for_status().json()
                    status_s.append(time.perf_counter() - t0)
                    if job["progress"]["done"]:
                        items = (await client.get(f"/jobs/{job['id']}/items")).raise_for_status().json()
                        found = [f for it in items for f in it["findings"]]
                        if found:
                            t0 = time.perf_counter()
                            action = rng.choice(["confirm", "reject"])
                            await client.post(f"/findings/{rng.choice(found)['id']}/review", json={"action": action})
                            review_s.append(time.perf_counter() - t0)
                except httpx.HTTPError:
                    failed_calls += 1  # the API is restarting (chaos): counted, not timed
                    await asyncio.sleep(0.2)

        def done_count() -> int:
            with db.read() as s:
                return s.query(Job).filter(Job.id.in_(job_ids), Job.status.in_(["done", "failed"])).count()

        pollers = [asyncio.create_task(load()) for _ in range(8)]
        plan = [(n * 0.25, "kill"), (n * 0.45, "restart"), (n * 0.65, "kill")] if chaos else []
        deadline = time.monotonic() + 1800
        while (finished := done_count()) < n and time.monotonic() < deadline:
            if plan and finished >= plan[0][0]:
                _, what = plan.pop(0)
                if what == "kill":
                    events.append(f"SIGKILL worker pid {cluster.kill_worker()} at {finished}/{n} jobs")
                else:  # in a thread: the client's calls go on (and fail) while the API is down
                    t0 = time.perf_counter()
                    await asyncio.to_thread(cluster.stop_api)
                    await asyncio.to_thread(cluster.start_api)
                    events.append(f"API restarted at {finished}/{n} jobs ({time.perf_counter() - t0:.1f} s down)")
            await asyncio.sleep(0.5)
        t_all = time.perf_counter() - t_start
        stop.set()
        await asyncio.gather(*pollers)
    cluster.stop()
    result = _verify(db, data, job_ids)
    db.dispose()
    return {
        "scenario": name, "uploads": n, "image_width": width, "database": db.dialect, "events": events,
        "upload_all_s": round(t_uploaded, 2), "all_done_s": round(t_all, 2),
        "upload_p50_ms": _pct(upload_s, 50), "upload_p95_ms": _pct(upload_s, 95),
        "status_calls": len(status_s), "status_p50_ms": _pct(status_s, 50), "status_p95_ms": _pct(status_s, 95),
        "review_calls": len(review_s), "review_p50_ms": _pct(review_s, 50), "review_p95_ms": _pct(review_s, 95),
        "calls_failed_during_restart": failed_calls, **result,
    }  # fmt: skip


def _verify(db: Database, data: Path, job_ids: list[int]) -> dict[str, Any]:
    with db.read() as s:
        jobs = {j.id: j for j in s.query(Job).filter(Job.id.in_(job_ids))}
        items = s.query(JobItem).filter(JobItem.job_id.in_(job_ids)).all()
        model_findings: dict[int, int] = {}
        for f in s.query(Finding).filter(Finding.job_id.in_(job_ids), Finding.origin == "model"):
            model_findings[f.item_id] = model_findings.get(f.item_id, 0) + 1
    lost = [j for j in job_ids if j not in jobs or jobs[j].status != "done"]
    duplicated = 0
    for it in items:
        expected = len(json.loads(it.report)["detections"]) if it.report else 0
        if model_findings.get(it.id, 0) != expected:
            duplicated += 1
    lines_per_job = []
    for j in job_ids:
        path = data / "jobs" / str(j) / "results.jsonl"
        lines_per_job.append(len(path.read_text().splitlines()) if path.exists() else 0)
    attempts = [jobs[j].attempts for j in job_ids if j in jobs]
    return {
        "jobs_done": len(job_ids) - len(lost), "lost": len(lost),
        "duplicated_items": duplicated + sum(1 for k in lines_per_job if k > 1),
        "items_per_job_ok": len(items) == len(job_ids), "results_lines_per_job": sorted(set(lines_per_job)),
        "jobs_retried": sum(1 for a in attempts if a > 1), "max_attempts": max(attempts) if attempts else 0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--width", type=int, default=480, help="target and reference width, pixels")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--only", choices=["calm", "chaos"], default=None)
    args = parser.parse_args()
    runs = []
    for name in ("calm", "chaos"):
        if args.only in (None, name):
            runs.append(asyncio.run(_scenario(name, args.uploads, args.width, args.db, chaos=name == "chaos")))
    cols = ["scenario", "uploads", "all_done_s", "upload_p95_ms", "status_p50_ms", "status_p95_ms", "review_p50_ms",
            "review_p95_ms", "jobs_done", "lost", "duplicated_items", "jobs_retried"]  # fmt: skip
    print(" | ".join(cols))
    for r in runs:
        print(" | ".join(f"{r[c]:.0f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
        for e in r["events"]:
            print(f"  {r['scenario']}: {e}")
    out = REPO / "benchmarks" / "results" / ("serve_postgresql.json" if args.db else "serve.json")
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    if args.only and out.exists():  # keep the other scenario's figures
        runs = [*(r for r in json.loads(out.read_text())["runs"] if r["scenario"] != args.only), *runs]
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
