# ruff: noqa: E402  (the import path is fixed before the imports; see below)
"""Ablation of the change detector's robustness parts, per revisit nuisance (issue 10).

    python benchmarks/changedet_ablation.py                        # 10 base pairs, dev seed 0, every condition
    python benchmarks/changedet_ablation.py --n 6 --conditions none shadow defocus --variants full no_light_invariant

The pairs and conditions are those of ``benchmarks/inspection.py`` (same generator, seeds and scoring), but
the reference is warped by the pair's *true* homography instead of being aligned, so the table isolates the
detector. Each variant turns one part off (``--param`` names of :class:`tenken.changedet.ChangeParams`):
``equalise_blur``, ``light_invariant``, ``robust_tones``, ``relight_regions``, ``clip_aware``, and all of them
at once (the detector as it was before issue 10, apart from the multiplicative local relighting, the paired
tone fit and the region filters). Prints macro F1 / clean-correct
share / recall per condition and pooled, and writes ``benchmarks/results/changedet_ablation.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.inspection import CONDITIONS, condition_pairs, load_sources, score
from tenken.changedet import ChangeParams, analyse_pair
from tenken.synth.pairs import SyntheticPair, generate_pairs

PARTS = ("equalise_blur", "light_invariant", "robust_tones", "relight_regions", "clip_aware")
VARIANTS: dict[str, list[str]] = {
    "full": [],
    **{f"no_{part}": [f"{part}=false"] for part in PARTS},
    "none_of_them": [f"{part}=false" for part in PARTS],
}


def warped(pair: SyntheticPair) -> tuple[np.ndarray, np.ndarray]:
    """The reference in target pixels by the true homography, and its valid mask."""
    h, w = pair.target.shape[:2]
    ref = cv2.warpPerspective(pair.reference, pair.homography, (w, h), flags=cv2.INTER_LINEAR)
    ones = np.full(pair.reference.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, pair.homography, (w, h), flags=cv2.INTER_NEAREST) > 0
    return ref, valid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="base pairs (each run under every condition)")
    ap.add_argument("--seed", type=int, default=0, help="development seed (never the held-out one)")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "changedet_ablation.json"))
    args = ap.parse_args()

    params = {name: ChangeParams.from_assignments(VARIANTS[name]) for name in args.variants}
    base = generate_pairs(load_sources(), args.n, args.seed)
    pooled: dict[str, tuple[list, list]] = {name: ([], []) for name in params}
    table: dict[str, dict] = {}
    for cond in args.conditions:
        pairs = condition_pairs(base, cond, args.seed)
        inputs = [warped(p) for p in pairs]
        table[cond] = {}
        for name, p in params.items():
            preds = [
                analyse_pair(pr.target, ref, valid, p).detections.xyxy
                for pr, (ref, valid) in zip(pairs, inputs, strict=True)
            ]
            table[cond][name] = score(pairs, preds)
            pooled[name][0].extend(pairs)
            pooled[name][1].extend(preds)
        print(f"\r{cond} done", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    table["overall"] = {name: score(*pooled[name]) for name in params}

    print(
        f"\nDetector ablation, seed {args.seed}, {args.n} base pairs per condition, true homography"
        " (F1 / clean share / recall)"
    )
    print(f"{'condition':<15}" + "".join(f"{name:>22}" for name in params))
    for cond, row in table.items():
        cells = "".join(
            f"{r['macro_f1']:>10.3f} {r['clean_fraction_clean']:>4.2f} {r['recall']:>5.2f}" for r in row.values()
        )
        print(f"{cond:<15}{cells}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command": shlex.join(["python", "benchmarks/changedet_ablation.py", *sys.argv[1:]]),
                "seed": args.seed,
                "n_base_pairs": args.n,
                "variants": VARIANTS,
                "table": table,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
