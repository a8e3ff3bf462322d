"""Scoring speed of tenken.eval: detection F1 + size tables, COCO mAP@50, REC accuracy, Japanese ROUGE-L.

Targets: 100,000 samples with a few boxes each score (per-sample F1 bbox and bbox + label, size quartiles and
lower-bound rows) in under 2 s (issue 6); ``tenken eval detection`` on 100,000 samples through the CLI (JSONL
reading, F1, size tables, both COCO mAP@50 figures) in under 10 s (issue 9). The CLI row runs
``python -m tenken eval detection`` in a subprocess and records its wall time and its CPU time (user + sys),
since on a shared machine the wall time depends on the load (the load average is recorded too).

Data is synthetic and seeded: each sample has 0–4 ground-truth boxes (sizes 5–300 px) and predictions that
are jittered copies (80 % kept, 80 % with the right label) plus 0–1 false positives. Each measurement is the
best of ``--repeat`` runs (wall clock, one process). Prints a table and writes
``benchmarks/results/eval.json``.

    python benchmarks/eval.py              # full sizes (100,000 samples)
    python benchmarks/eval.py --quick      # 10,000 samples, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tenken.core.detections import Detections
from tenken.eval.coco_map import map50
from tenken.eval.detection import FlatBoxes, score_detections, score_flat
from tenken.eval.rec import rec_scores
from tenken.eval.scoring import score_detection_files
from tenken.eval.text import rouge_l

LABELS = ["plastic_bottle", "empty_can", "tool", "traffic_cone", "glove", "helmet"]


def synth(n_samples: int, seed: int = 0) -> tuple[FlatBoxes, FlatBoxes]:
    """Flat ground truth and predictions for ``n_samples`` images."""
    rng = np.random.default_rng(seed)
    n_gt = rng.integers(0, 5, n_samples)
    tot = int(n_gt.sum())
    xy = rng.uniform(0, 1500, (tot, 2))
    gt = FlatBoxes(
        np.hstack([xy, xy + rng.uniform(5, 300, (tot, 2))]),
        rng.integers(0, len(LABELS), tot),
        np.repeat(np.arange(n_samples), n_gt),
    )
    keep = rng.random(tot) < 0.8
    jitter = gt.xyxy[keep] + rng.normal(0, 4, (int(keep.sum()), 4))
    jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
    labels = np.where(rng.random(int(keep.sum())) < 0.8, gt.labels[keep], rng.integers(0, len(LABELS), int(keep.sum())))
    n_fp = rng.integers(0, 2, n_samples)
    fxy = rng.uniform(0, 1500, (int(n_fp.sum()), 2))
    fp = np.hstack([fxy, fxy + rng.uniform(5, 300, (len(fxy), 2))])
    pred = FlatBoxes(
        np.vstack([jitter, fp]),
        np.concatenate([labels, rng.integers(0, len(LABELS), len(fp))]),
        np.concatenate([gt.sample[keep], np.repeat(np.arange(n_samples), n_fp)]),
    )
    return gt, pred


def to_detections(flat: FlatBoxes, n: int, scores: np.ndarray | None = None) -> list[Detections]:
    order = np.argsort(flat.sample, kind="stable")
    bounds = np.searchsorted(flat.sample[order], np.arange(n + 1))
    out = []
    for k in range(n):
        idx = order[bounds[k] : bounds[k + 1]]
        out.append(
            Detections(
                flat.xyxy[idx],
                None if scores is None else scores[idx],
                [LABELS[i] for i in flat.labels[idx]],
                image_size=(1920, 1080),
            )
        )
    return out


def cli_row(gt_path: Path, pred_path: Path, n: int) -> dict:
    """``python -m tenken eval detection`` in a subprocess: wall seconds, CPU seconds, load average."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tenken", "eval", "detection", "--gt", str(gt_path), "--pred", str(pred_path),
         "--json"],
        check=True, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"what": "tenken eval detection (CLI, subprocess), wall", "samples": n, "seconds": wall,
            "cpu_seconds": cpu, "load_average_1min": os.getloadavg()[0], "target_s": 10.0}  # fmt: skip


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 samples instead of 100,000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "eval.json")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    rows: list[dict] = []

    gt, pred = synth(n)
    secs, res = best_of(lambda: score_flat(gt, pred, n), args.repeat)
    rows.append({"what": "detection F1 + size tables, flat arrays", "samples": n, "gt_boxes": len(gt.sample),
                 "pred_boxes": len(pred.sample), "seconds": secs, "target_s": 2.0,
                 "f1_bbox": res.f1_bbox, "f1_bbox_label": res.f1_bbox_label})  # fmt: skip

    gts = to_detections(gt, n)
    preds = to_detections(pred, n, np.random.default_rng(1).uniform(0, 1, len(pred.sample)))
    secs, _ = best_of(lambda: score_detections(gts, preds), args.repeat)
    rows.append({"what": "detection F1 + size tables, from list[Detections]", "samples": n, "seconds": secs})

    m = min(n, 20_000)
    secs, v = best_of(lambda: map50(gts[:m], preds[:m], backend="faster-coco-eval"), 1)
    rows.append({"what": "mAP@50 faster-coco-eval", "samples": m, "seconds": secs, "map50": v})
    secs, v2 = best_of(lambda: map50(gts[:m], preds[:m], backend="pycocotools"), 1)
    rows.append({"what": "mAP@50 pycocotools", "samples": m, "seconds": secs, "map50": v2})

    with tempfile.TemporaryDirectory() as tmp:
        gt_path, pred_path = Path(tmp) / "gt.jsonl", Path(tmp) / "pred.jsonl"
        with gt_path.open("w") as fg, pred_path.open("w") as fp:
            for k in range(n):
                fg.write(json.dumps({"id": str(k), "boxes": gts[k].xyxy.tolist(), "labels": gts[k].labels}) + "\n")
                fp.write(json.dumps({"id": str(k), "detections": preds[k].to_records()}) + "\n")
        secs, _ = best_of(lambda: score_detection_files(gt_path, pred_path), 1)
        rows.append({"what": "score_detection_files: JSONL + F1 + 2x mAP (faster-coco-eval)", "samples": n,
                     "seconds": secs})  # fmt: skip
        rows.append(cli_row(gt_path, pred_path, n))

    rng = np.random.default_rng(2)
    g = np.hstack([xy := rng.uniform(0, 1000, (n, 2)), xy + rng.uniform(5, 600, (n, 2))])
    p = g + rng.normal(0, 10, g.shape)
    secs, _ = best_of(lambda: rec_scores(p, g), args.repeat)
    rows.append({"what": "REC acc@0.5/0.75/0.9 + mAcc + size buckets", "samples": n, "seconds": secs})

    k = 2_000
    refs = ["画像の2つのスーツケースの色は、黒と茶色に黄色のディテールです。"] * k
    hyps = ["スーツケースは黒と茶色です。"] * k
    rouge_l(refs[:1], hyps[:1])  # build the tokenizer once
    secs, _ = best_of(lambda: rouge_l(refs, hyps), 1)
    rows.append({"what": "ROUGE-L ja (MeCab tokens)", "samples": k, "seconds": secs, "samples_per_s": k / secs})

    print(f"tenken.eval scoring speed ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, shared)")
    print(f"{'what':<62} {'samples':>8} {'seconds':>8} {'cpu s':>8}")
    for r in rows:
        cpu = f"{r['cpu_seconds']:>8.3f}" if "cpu_seconds" in r else f"{'':>8}"
        print(f"{r['what']:<62} {r['samples']:>8} {r['seconds']:>8.3f} {cpu}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "note": "shared machine",
    }
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
