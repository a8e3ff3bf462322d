"""``tenken inspect`` end to end as a user runs it: files in, report.json + annotated.png out.

Measures :func:`tenken.inspect.batch.inspect_to_folder` (decode, alignment, change detection, report, annotated
composite, PNG encode) on the shipped example pair at its size (1280x853) and upscaled to 3840x2160, and a
small batch (examples/pairs.jsonl) through :func:`run_batch` (reference features cached across items).
Prints a table and writes ``benchmarks/results/pipeline.json``.

    python -m benchmarks.pipeline [--repeats 3]    # (-m: benchmarks/inspect.py would shadow the stdlib inspect)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import cv2

from tenken.core.images import load_image, save_image
from tenken.inspect.batch import inspect_to_folder, read_manifest, run_batch
from tenken.inspect.pipeline import Inspector

ROOT = Path(__file__).resolve().parents[1]
WALK = ROOT / "examples" / "walkway"


def _pair_4k(tmp: Path) -> tuple[Path, Path]:
    out = []
    for name in ("target.jpg", "reference.jpg"):
        img = cv2.resize(load_image(WALK / name), (3840, 2560), interpolation=cv2.INTER_CUBIC)[200:2360]
        out.append(save_image(img, tmp / f"4k_{name}", quality=92))
    return out[0], out[1]


def _single(target: Path, reference: Path, tmp: Path, repeats: int) -> dict:
    inspector = Inspector()
    runs = []
    for i in range(repeats):
        t0 = time.perf_counter()
        result = inspect_to_folder(inspector, target, [reference], tmp / f"out{i}")
        wall = 1e3 * (time.perf_counter() - t0)
        runs.append({**result.report.timings_ms, "wall": wall, "n": len(result.report.detections)})
    med = {k: statistics.median(r[k] for r in runs) for k in ("align", "pass1", "total", "wall")}
    size = load_image(target).shape
    return {
        "image": f"{size[1]}x{size[0]}",
        "repeats": repeats,
        "median_ms": {**med, "render_and_write": med["wall"] - med["total"]},
        "first_wall_ms": runs[0]["wall"],
        "detections": runs[0]["n"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = [_single(WALK / "target.jpg", WALK / "reference.jpg", tmp, args.repeats)]
        rows.append(_single(*_pair_4k(tmp), tmp, args.repeats))
        t0 = time.perf_counter()
        summary = run_batch(Inspector(), read_manifest(ROOT / "examples" / "pairs.jsonl"), tmp / "batch")
        batch_ms = 1e3 * (time.perf_counter() - t0)
    result = {
        "single": rows,
        "batch": {"items": summary.total, "wall_ms": batch_ms, "per_item_ms": batch_ms / max(1, summary.total)},
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "note": "2 CPU cores shared with other jobs: timings are noisy",
    }
    print(f"{'image':>10} {'align':>7} {'detect':>7} {'render+write':>13} {'wall':>7}  (median ms)")
    for r in rows:
        m = r["median_ms"]
        print(f"{r['image']:>10} {m['align']:7.0f} {m['pass1']:7.0f} {m['render_and_write']:13.0f} {m['wall']:7.0f}")
    b = result["batch"]
    print(f"batch of {b['items']}: {b['wall_ms']:.0f} ms ({b['per_item_ms']:.0f} ms/item); "
          f"peak RSS {result['max_rss_mb']:.0f} MB")  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
