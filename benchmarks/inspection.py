# ruff: noqa: E402  (the import path is fixed before the imports; see below)
"""Benchmark of the classical change detector on synthetic anomaly pairs (issue 4 targets).

    python benchmarks/inspection.py                       # dev seed 0 and held-out seed 7, 60 pairs each
    python benchmarks/inspection.py --n 30 --seeds 0      # quicker
    python benchmarks/inspection.py --param sensitivity=6 # try a detector setting

1. Quality: ``--n`` synthetic pairs per seed from ``../shared/data/dev`` (:func:`tenken.synth.pairs.generate_pairs`:
   re-shot photos and real homography-sequence steps, other light, blur, noise, JPEG, 0-4 pasted cut-outs or
   photo pieces, a third of targets clean). Each pair goes through the real Inspector (alignment, then the
   detector); a pair whose alignment is not ok gets no detection. Scored with the per-sample F1 of DESIGN.md
   (bbox only: greedy one-to-one matching by IoU >= 0.5, F = 2TP / (2TP + FP + FN), 1 for a sample with neither
   truth nor prediction), macro-averaged; also the
   fraction of clean targets with no detection and the recall per ground-truth size quartile (size = sqrt(area),
   quartile edges over all truth boxes of the seed). Seed 0 is the development seed the defaults were tuned on;
   seed 7 is held out (never looked at while tuning).
   Scoring is :func:`tenken.eval.detection.score_detections`, unchanged; before it, every method's predictions
   lying mostly (>= 50 % of their area) inside one of the pair's ignore regions are dropped
   (:func:`tenken.synth.ignore.drop_ignored`; the graf and boat sequences hold real changes, a car leaving and
   people moving, that no truth marks; see :mod:`tenken.synth.ignore`). Ground truth is never changed.
   Two anchors are computed on the same pairs: plain grey-level difference without alignment, and the same
   alignment + Lab difference + fixed threshold + connected components.
2. Speed: a 3840x2160 pair (a dev photo upscaled, re-shot, relit, with objects) end to end: JPEG decoding,
   alignment, detection, report.json and annotated.png written; median of 5 runs (reference features cached
   after the first), and the memory peak (process max RSS, and the tracemalloc peak
   of Python/numpy allocations in one run).

Every pair goes through ``tenken.inspect.pipeline.Inspector("classical")`` (``align_best`` with its feature cache,
then the ``ChangeDetector``); the 4K run is ``inspect_to_folder`` (what ``tenken inspect T R --out DIR`` does: JPEG
files in, report.json and annotated.png out). Prints a table and writes ``benchmarks/results/inspection.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.align.types import Alignment
from tenken.changedet import ChangeParams
from tenken.core.detections import Detections
from tenken.core.images import save_image
from tenken.eval.detection import score_detections
from tenken.inspect.batch import inspect_to_folder
from tenken.inspect.pipeline import Inspector
from tenken.synth.ignore import drop_ignored
from tenken.synth.pairs import DevSources, PairSettings, SyntheticPair, generate_pairs, make_pair

DEV = Path(os.environ.get("TENKEN_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))


# -- scoring: tenken.eval.detection (DESIGN.md "Per-sample detection F1", bbox only) ---------------------------
def score(pairs: list[SyntheticPair], preds: list[np.ndarray]) -> dict:
    """Scores of one method; predictions mostly inside a pair's ignore regions are dropped first."""
    gts = [p.boxes for p in pairs]
    preds = [b[drop_ignored(b, p.ignore)] for p, b in zip(pairs, preds, strict=True)]
    dets = [Detections(b, labels=["change"] * len(b), image_size=g.image_size) for g, b in zip(gts, preds, strict=True)]
    s = score_detections(gts, dets)
    clean = [len(d) == 0 for g, d in zip(gts, dets, strict=True) if len(g) == 0]
    q = s.size_quartiles
    return {
        "macro_f1": float(s.f1_bbox),
        "clean_fraction_clean": float(np.mean(clean)) if clean else float("nan"),
        "recall": float(s.size_lower_bounds[0].recall),
        "recall_by_size_quartile": [float(r.recall) for r in q],
        "size_quartile_edges_px": [float(r.lower) for r in q[1:]],
        "n_pairs": len(pairs),
        "n_clean": len(clean),
        "n_objects": int(s.counts["n_gt"]),
    }


# -- methods ------------------------------------------------------------------------------------------------
def components(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    s = stats[keep]
    return np.stack([s[:, 0], s[:, 1], s[:, 0] + s[:, 2], s[:, 1] + s[:, 3]], 1).astype(float).reshape(-1, 4)


def plain_difference(pair: SyntheticPair) -> np.ndarray:
    """Anchor 1: grey-level |target - reference| > 30 without alignment, connected components >= 20 px."""
    t = cv2.cvtColor(pair.target, cv2.COLOR_RGB2GRAY).astype(np.int16)
    r = cv2.resize(pair.reference, (t.shape[1], t.shape[0]))
    r = cv2.cvtColor(r, cv2.COLOR_RGB2GRAY).astype(np.int16)
    return components(np.abs(t - r) > 30, 20)


def lab_difference(pair: SyntheticPair, alignment: Alignment) -> np.ndarray:
    """Anchor 2: aligned reference, Lab delta E > 20 inside the valid mask, connected components >= 20 px."""
    if not alignment.ok:
        return np.zeros((0, 4))
    lab_t = cv2.cvtColor(pair.target.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab_r = cv2.cvtColor(alignment.warped_reference.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    de = np.linalg.norm(lab_t - lab_r, axis=2)
    return components((de > 20) & alignment.valid_mask, 20)


def run_quality(pairs: list[SyntheticPair], params: ChangeParams, label: str) -> dict:
    inspector = Inspector("classical", change_params=params, lang="en")  # one feature cache for the run
    preds: dict[str, list[np.ndarray]] = {"plain": [], "lab": [], "classical": []}
    aligned_ok, det_ms = 0, []
    for i, pair in enumerate(pairs):
        run = inspector.run(pair.target, [pair.reference], id=f"{label}-{i}")
        aligned_ok += run.alignment.ok
        preds["plain"].append(plain_difference(pair))
        preds["lab"].append(lab_difference(pair, run.alignment))
        preds["classical"].append(run.detections.xyxy)
        if run.alignment.ok:
            det_ms.append(run.timings_ms["pass1"])
        print(f"\r{label}: {i + 1}/{len(pairs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    out = {name: score(pairs, p) for name, p in preds.items()}
    out["alignment_ok_fraction"] = aligned_ok / len(pairs)
    out["detect_ms_median"] = statistics.median(det_ms) if det_ms else None
    return out


# -- 4K end to end ------------------------------------------------------------------------------------------
def make_4k_pair(sources: DevSources) -> SyntheticPair:
    photo = dict(sources.photos)["sam_truck.jpg"]
    photo = cv2.resize(photo, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    settings = PairSettings(object_size=(24.0, 200.0))
    return make_pair(photo, sources.bank, np.random.default_rng(4), settings, n_objects=3)


def end_to_end(inspector: Inspector, target: Path, reference: Path, out: Path) -> dict[str, float]:
    """``tenken inspect TARGET REFERENCE --out DIR``: load, align, detect, report.json, annotated.png (ms)."""
    t0 = time.perf_counter()
    result = inspect_to_folder(inspector, target, [reference], out)
    total = 1e3 * (time.perf_counter() - t0)
    stages = result.timings_ms
    return {
        "load_and_align": stages["align"],
        "detect": stages["pass1"],
        "report_and_png": total - stages["total"],
        "total": total,
        "n_detections": len(result.detections),
    }


def run_speed(sources: DevSources, params: ChangeParams, repeats: int) -> dict:
    pair = make_4k_pair(sources)
    with tempfile.TemporaryDirectory() as tmp:
        target, reference = Path(tmp) / "target.jpg", Path(tmp) / "reference.jpg"
        save_image(pair.target, target, quality=92)
        save_image(pair.reference, reference, quality=92)
        inspector = Inspector("classical", change_params=params, lang="ja")
        runs = [end_to_end(inspector, target, reference, Path(tmp) / "out") for _ in range(repeats)]
        tracemalloc.start()
        end_to_end(inspector, target, reference, Path(tmp) / "out")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    med: Callable[[str], float] = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    return {
        "image": "3840x2160 JPEG files (target and reference)",
        "repeats": repeats,
        "median_ms": {k: med(k) for k in ("load_and_align", "detect", "report_and_png", "total")},
        "first_run_total_ms": runs[0]["total"],
        "n_detections": runs[0]["n_detections"],
        "tracemalloc_peak_mb": peak / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="synthetic pairs per seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 7], help="first = development, rest = held out")
    ap.add_argument("--param", action="append", default=[], help="detector setting KEY=VALUE (repeatable)")
    ap.add_argument("--repeats", type=int, default=5, help="4K end-to-end runs")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument(
        "--exclude-unmarked",
        action="store_true",
        help="leave out the graf and boat sequences, whose real changes (a car leaves, people move) have no truth "
        "and are scored as ignore regions otherwise",
    )
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "inspection.json"))
    args = ap.parse_args()

    params = ChangeParams.from_assignments(args.param)
    sources = DevSources.load(DEV, unmarked_changes=not args.exclude_unmarked)
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "pipeline": "tenken.inspect.pipeline.Inspector('classical') (align_best + ChangeDetector)",
        "params": params.to_dict(),
        "sequences": sorted({name.split("/")[0] for name, *_ in sources.sequences}),
        "seeds": {},
    }
    for j, seed in enumerate(args.seeds):
        pairs = generate_pairs(sources, args.n, seed)
        role = "development" if j == 0 else "held-out"
        results["seeds"][str(seed)] = {"role": role, **run_quality(pairs, params, f"seed {seed}")}
    if not args.skip_speed:
        results["speed_4k"] = run_speed(sources, params, args.repeats)

    print(f"\nSynthetic anomaly pairs, {args.n} per seed (bbox-only per-sample F1, DESIGN.md)")
    head = f"{'seed':<14}{'method':<34}{'macro F1':>9}{'clean ok':>10}{'recall':>8}{'rec Q1':>8}{'rec Q2-4':>20}"
    print(head)
    print("-" * len(head))
    names = {
        "plain": "plain difference, no alignment",
        "lab": "align + Lab diff + threshold + CC",
        "classical": "align + ChangeDetector",
    }
    for seed, res in results["seeds"].items():
        for key, title in names.items():
            r = res[key]
            q = r["recall_by_size_quartile"]
            rest = " ".join(f"{v:.2f}" for v in q[1:])
            print(
                f"{seed + ' (' + res['role'][:3] + ')':<14}{title:<34}{r['macro_f1']:>9.3f}"
                f"{r['clean_fraction_clean']:>10.2f}{r['recall']:>8.2f}{q[0]:>8.2f}{rest:>20}"
            )
        e = res["classical"]["size_quartile_edges_px"]
        print(
            f"{'':<14}alignment ok {res['alignment_ok_fraction']:.2f}, detect median "
            f"{res['detect_ms_median']:.0f} ms, size quartile edges {e[0]:.0f}/{e[1]:.0f}/{e[2]:.0f} px"
        )
    if "speed_4k" in results:
        s = results["speed_4k"]
        m = s["median_ms"]
        print(
            f"\n4K end to end (median of {s['repeats']}): total {m['total']:.0f} ms = "
            f"load+align {m['load_and_align']:.0f} + "
            f"detect {m['detect']:.0f} + report/PNG {m['report_and_png']:.0f}; first run {s['first_run_total_ms']:.0f}"
            f" ms; tracemalloc peak {s['tracemalloc_peak_mb']:.0f} MB, max RSS {s['max_rss_mb']:.0f} MB"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
