# ruff: noqa: E402  (the import path is fixed before the imports; see below)
"""Benchmark of the classical change detector on synthetic anomaly pairs under revisit nuisances (issues 4, 10).

    python benchmarks/inspection.py                       # dev seed 0 and held-out seed 7, 24 pairs x condition
    python benchmarks/inspection.py --n 8 --seeds 0 --skip-speed          # quicker
    python benchmarks/inspection.py --conditions none shadow defocus      # some conditions only
    python benchmarks/inspection.py --param sensitivity=6                 # try a detector setting

1. Quality: ``--n`` base pairs per seed from ``../shared/data/dev`` (:func:`tenken.synth.pairs.generate_pairs`:
   re-shot photos and real homography-sequence steps of every dev sequence and background, mild light change,
   blur, noise, JPEG, 0-4 pasted cut-outs or photo pieces, a third of targets clean). Each *condition* is the
   same base pairs with one revisit nuisance of :mod:`tenken.synth.nuisances` applied to the target or the
   reference (``none``: as generated; ``mixed``: three nuisances drawn per pair, composed), so conditions
   differ only by the nuisance. Each pair goes through the real Inspector (alignment, then the detector); a
   pair whose alignment is not ok gets no detection. Scored with the per-sample F1 of DESIGN.md (bbox only:
   greedy one-to-one matching by IoU >= 0.5, F = 2TP / (2TP + FP + FN), 1 for a sample with neither truth nor
   prediction), macro-averaged; also the fraction of clean targets with no detection and the recall per
   ground-truth size quartile (size = sqrt(area), quartile edges over the truth boxes scored), per condition
   and over all conditions pooled ("overall"). Seed 0 is the development seed; seed 7 is held out (never
   looked at while tuning).
   Alignment per condition: share of pairs aligned ok, and the alignment error of DESIGN.md (mean distance of
   the reference corners mapped by the estimated and the true homography, target pixels) of ok pairs: median,
   maximum and the number over 3 px (an accepted alignment that far off is a defect).
   Scoring is :func:`tenken.eval.detection.score_detections`, unchanged; before it, every method's predictions
   lying mostly (>= 50 % of their area) inside one of the pair's ignore regions are dropped
   (:func:`tenken.synth.ignore.drop_ignored`; the graf and boat sequences hold real changes, a car leaving and
   people moving, that no truth marks: boxes in ``benchmarks/fixtures/dev_sequences.json``). Ground truth is
   never changed. On condition ``none``, two anchors are computed on the same pairs: plain grey-level
   difference without alignment, and the same alignment + Lab difference + fixed threshold + components.
2. Speed: a 3840x2160 pair (a dev photo upscaled, re-shot, relit, with objects) end to end: JPEG decoding,
   alignment, detection, report.json and annotated.png written; median of 5 runs (reference features cached
   after the first), and the memory peak (process max RSS, and the tracemalloc peak
   of Python/numpy allocations in one run).

Every pair goes through ``tenken.inspect.pipeline.Inspector("classical")`` (``align_best`` with its feature cache,
then the ``ChangeDetector``); the 4K run is ``inspect_to_folder`` (what ``tenken inspect T R --out DIR`` does: JPEG
files in, report.json and annotated.png out). Prints tables and writes ``benchmarks/results/inspection.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
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

from tenken.align.homography import corner_error
from tenken.align.types import Alignment
from tenken.changedet import ChangeParams
from tenken.core.detections import Detections
from tenken.core.images import save_image
from tenken.eval.detection import score_detections
from tenken.inspect.batch import inspect_to_folder
from tenken.inspect.pipeline import Inspector
from tenken.synth.ignore import drop_ignored
from tenken.synth.nuisances import NUISANCES, perturb_pair
from tenken.synth.pairs import DevSources, PairSettings, SyntheticPair, generate_pairs, make_pair

DEV = Path(os.environ.get("TENKEN_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dev_sequences.json"
CONDITIONS = ("none", *NUISANCES, "mixed")
"""``none`` (pairs as generated), each nuisance alone, and ``mixed`` (three nuisances per pair)."""
ALIGN_DEFECT_PX = 3.0
"""An ok alignment whose corner error exceeds this many target pixels is counted as a defect."""


def load_sources(exclude_unmarked: bool = False) -> DevSources:
    """The dev sources with the benchmark's sequence steps and ignore regions (``fixtures/dev_sequences.json``);
    ``exclude_unmarked`` leaves out the sequences holding real changes no truth marks (graf, boat)."""
    fx = json.loads(FIXTURES.read_text())
    steps = {k: v for k, v in fx["steps"].items() if not (exclude_unmarked and k in fx["unmarked"])}
    ignore = {k: np.array([b["xyxy"] for b in v["boxes"]]) for k, v in fx["ignore"].items()}
    return DevSources.load(DEV, steps=steps, ignore=ignore)


def condition_pairs(base: list[SyntheticPair], condition: str, seed: int) -> list[SyntheticPair]:
    """``base`` under ``condition`` (pair ``i``'s nuisance drawn from ``(seed, i, condition)`` only)."""
    if condition == "none":
        return base
    code = CONDITIONS.index(condition)
    out = []
    for i, pair in enumerate(base):
        rng = np.random.default_rng([seed, i, 1000 + code])
        names = list(rng.choice(list(NUISANCES), 3, replace=False)) if condition == "mixed" else [condition]
        out.append(perturb_pair(pair, names, rng))
    return out


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


def run_quality(pairs: list[SyntheticPair], inspector: Inspector, label: str, anchors: bool) -> dict:
    """Detections and alignment figures of one condition; raw predictions under ``"_preds"`` for pooling."""
    preds: dict[str, list[np.ndarray]] = {"classical": []}
    if anchors:
        preds |= {"plain": [], "lab": []}
    errors, det_ms, aligned_ok = [], [], 0
    for i, pair in enumerate(pairs):
        run = inspector.run(pair.target, [pair.reference], id=f"{label}-{i}")
        al = run.alignment
        aligned_ok += al.ok
        if al.ok:
            rh, rw = pair.reference.shape[:2]
            errors.append(corner_error(al.homography, pair.homography, (rw, rh)))
            det_ms.append(run.timings_ms["pass1"])
        if anchors:
            preds["plain"].append(plain_difference(pair))
            preds["lab"].append(lab_difference(pair, al))
        preds["classical"].append(run.detections.xyxy)
        print(f"\r{label}: {i + 1}/{len(pairs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    out = {name: score(pairs, p) for name, p in preds.items()}
    out["alignment"] = {
        "ok_fraction": aligned_ok / len(pairs),
        "error_px_median": statistics.median(errors) if errors else None,
        "error_px_max": max(errors) if errors else None,
        f"ok_over_{ALIGN_DEFECT_PX:g}px": sum(e > ALIGN_DEFECT_PX for e in errors),
    }
    out["detect_ms_median"] = statistics.median(det_ms) if det_ms else None
    out["_preds"] = preds["classical"]
    return out


def run_seed(sources: DevSources, params: ChangeParams, n: int, seed: int, conditions: list[str]) -> dict:
    """Every condition of one seed, then the pooled ``overall`` score of the classical detector."""
    inspector = Inspector("classical", change_params=params, lang="en")  # one feature cache for the seed
    base = generate_pairs(sources, n, seed)
    res: dict = {}
    pooled_pairs: list[SyntheticPair] = []
    pooled_preds: list[np.ndarray] = []
    for cond in conditions:
        pairs = condition_pairs(base, cond, seed)
        r = run_quality(pairs, inspector, f"seed {seed} {cond}", anchors=cond == "none")
        pooled_pairs += pairs
        pooled_preds += r.pop("_preds")
        res[cond] = r
    res["overall"] = {"classical": score(pooled_pairs, pooled_preds)}
    return res


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


def print_tables(results: dict) -> None:
    head = (
        f"{'seed':<10}{'condition':<15}{'macro F1':>9}{'clean ok':>9}{'recall':>8}{'recall by size Q1-Q4':>24}"
        f"{'align ok':>9}{'err med':>8}{'err max':>8}{'>3px':>5}"
    )
    print(head)
    print("-" * len(head))
    for seed, res in results["seeds"].items():
        for cond, r in res["conditions"].items():
            c = r["classical"]
            q = " ".join(f"{v:.2f}" for v in c["recall_by_size_quartile"])
            a = r.get("alignment")
            al = (
                f"{a['ok_fraction']:>9.2f}{a['error_px_median'] or float('nan'):>8.2f}"
                f"{a['error_px_max'] or float('nan'):>8.2f}{a[f'ok_over_{ALIGN_DEFECT_PX:g}px']:>5}"
                if a
                else ""
            )
            tag = f"{seed} ({res['role'][:3]})"
            print(
                f"{tag:<10}{cond:<15}{c['macro_f1']:>9.3f}{c['clean_fraction_clean']:>9.2f}{c['recall']:>8.2f}"
                f"{q:>24}{al}"
            )
        none = res["conditions"].get("none")
        if none and "plain" in none:
            print(
                f"{'':<10}anchors on 'none': plain difference F1 {none['plain']['macro_f1']:.3f}, "
                f"align + Lab diff + threshold F1 {none['lab']['macro_f1']:.3f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24, help="base pairs per seed (each run under every condition)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 7], help="first = development, rest = held out")
    ap.add_argument(
        "--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS, help="nuisance conditions to run"
    )
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
    sources = load_sources(args.exclude_unmarked)
    results: dict = {
        "command": shlex.join(["python", "benchmarks/inspection.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "pipeline": "tenken.inspect.pipeline.Inspector('classical') (align_best + ChangeDetector)",
        "params": params.to_dict(),
        "sequences": sorted({name.split("/")[0] for name, *_ in sources.sequences}),
        "n_base_pairs": args.n,
        "seeds": {},
    }
    for j, seed in enumerate(args.seeds):
        res = run_seed(sources, params, args.n, seed, args.conditions)
        results["seeds"][str(seed)] = {"role": "development" if j == 0 else "held-out", "conditions": res}
    if not args.skip_speed:
        results["speed_4k"] = run_speed(sources, params, args.repeats)

    print(f"\nSynthetic anomaly pairs under revisit nuisances, {args.n} base pairs per seed and condition")
    print_tables(results)
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
