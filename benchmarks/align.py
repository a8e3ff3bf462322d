"""Benchmark of ``tenken.align``: accuracy, 4K speed and retrieval (issue 3 targets).

    python benchmarks/align.py                 # everything (a few minutes on 2 cores)
    python benchmarks/align.py --skip-fullres  # skip the slow full-resolution SIFT reference runs

1. Accuracy on the real homography sequences in ``../shared/data/dev/homography`` (img1 = reference, img2..6
   = targets; ground truth ``H1to{k}p`` maps img1 -> img{k}, which is our reference -> target): mean corner
   error (reference corners mapped by the estimated and the true homography, target pixels). A pair with
   ``ok=False`` counts as a miss. Also a vanilla OpenCV baseline (SIFT, ratio 0.8, RANSAC 3 px).
2. Speed on 3840x2160 pairs made from dev photos (upscaled, warped by a known homography, gain/offset and
   sensor noise): median ``align_pair`` wall time without and with the reference's features cached, and the
   corner error next to full-resolution SIFT (``max_side=0``). Images are passed as arrays (decoding a 4K
   JPEG adds about 60 ms and is not alignment).
3. Retrieval (issue 16): synthetic archives of 10k, 100k and 1M frames where six frames share each waypoint
   (within 1 m) but look in different directions (yaw anywhere, pitch +15 to -90 degrees); waypoints ~8 m
   apart. A query is a new photo of one archived frame's view: GPS noise 1.5 m, relative-altitude noise 0.5 m,
   yaw/pitch noise 3/2 degrees. Top-1 accuracy (the archived frame ranked first) with and without viewing
   direction, index build time, and per-query time (median and 95th percentile, k=5).

Prints a table and writes ``benchmarks/results/align.json``.

    python benchmarks/align.py --retrieval-only   # only part 3 (about a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.align.homography import corner_error, normalise  # noqa: E402
from tenken.align.match import FeatureCache  # noqa: E402
from tenken.align.pair import align_pair  # noqa: E402
from tenken.align.telemetry import Telemetry  # noqa: E402
from tenken.core.images import load_image  # noqa: E402

DEV = Path(os.environ.get("TENKEN_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))
if not DEV.is_dir():
    DEV = Path("/work/shared/data/dev")
FOURK = (3840, 2160)


def vanilla(target: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """Plain OpenCV: SIFT at full resolution, ratio test 0.8, RANSAC 3 px."""
    sift = cv2.SIFT_create()
    kr, dr = sift.detectAndCompute(cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY), None)
    kt, dt = sift.detectAndCompute(cv2.cvtColor(target, cv2.COLOR_RGB2GRAY), None)
    if dr is None or dt is None:
        return None
    good = [m for m, n in cv2.BFMatcher().knnMatch(dr, dt, k=2) if m.distance < 0.8 * n.distance]
    if len(good) < 4:
        return None
    src = np.float32([kr[m.queryIdx].pt for m in good])
    dst = np.float32([kt[m.trainIdx].pt for m in good])
    h, _ = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    return h


def accuracy() -> dict:
    rows = []
    for seq in sorted((DEV / "homography").iterdir()):
        ref = load_image(seq / "img1.png")
        size = (ref.shape[1], ref.shape[0])
        for k in range(2, 7):
            tgt = load_image(seq / f"img{k}.png")
            gt = normalise(np.loadtxt(seq / f"H1to{k}p"))
            t0 = time.perf_counter()
            a = align_pair(tgt, ref)
            dt = time.perf_counter() - t0
            err = corner_error(a.homography, gt, size) if a.homography is not None else float("inf")
            hv = vanilla(tgt, ref)
            verr = corner_error(hv, gt, size) if hv is not None else float("inf")
            rows.append(
                {
                    "sequence": seq.name,
                    "pair": f"1-{k}",
                    "ok": a.ok,
                    "corner_error_px": err,
                    "inliers": a.inliers,
                    "reason": a.reason,
                    "view_synthesis": any("view synthesis" in w for w in a.warnings),
                    "seconds": dt,
                    "vanilla_corner_error_px": verr,
                }
            )
            line = f"  {seq.name:14s} 1-{k}  ok={a.ok!s:5}  err={err:8.2f} px  vanilla={verr:9.2f} px"
            print(f"{line}  {dt:5.2f} s", flush=True)
    return {"pairs": rows, **summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    def share(pred) -> float:
        return sum(1 for r in rows if pred(r)) / len(rows)

    per_seq = {}
    for seq in sorted({r["sequence"] for r in rows}):
        sub = [r for r in rows if r["sequence"] == seq]
        per_seq[seq] = {
            "within_1px": sum(r["ok"] and r["corner_error_px"] < 1 for r in sub) / len(sub),
            "within_3px": sum(r["ok"] and r["corner_error_px"] < 3 for r in sub) / len(sub),
            "ok": sum(r["ok"] for r in sub) / len(sub),
        }
    return {
        "within_1px": share(lambda r: r["ok"] and r["corner_error_px"] < 1),
        "within_3px": share(lambda r: r["ok"] and r["corner_error_px"] < 3),
        "ok_with_error_over_10px": sum(1 for r in rows if r["ok"] and r["corner_error_px"] > 10),
        "vanilla_within_1px": share(lambda r: r["vanilla_corner_error_px"] < 1),
        "vanilla_within_3px": share(lambda r: r["vanilla_corner_error_px"] < 3),
        "per_sequence": per_seq,
    }


def make_4k_pairs(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, str]]:
    """``(target, reference, H, source)``: a dev photo cropped to 16:9 and upscaled to 3840x2160 as the
    reference; the target is it warped by a random moderate homography, with gain/offset and noise."""
    rng = np.random.default_rng(seed)
    files = sorted((DEV / "backgrounds").iterdir()) + sorted((DEV / "pairs").iterdir())
    files = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
    picks = [files[i] for i in rng.choice(len(files), size=min(n, len(files)), replace=False)]
    w, h = FOURK
    out = []
    for f in picks:
        img = load_image(f)
        ih, iw = img.shape[:2]
        ch = min(ih, round(iw * 9 / 16))
        cw = round(ch * 16 / 9)
        y0, x0 = (ih - ch) // 2, (iw - cw) // 2
        ref = cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], FOURK, interpolation=cv2.INTER_CUBIC)
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * np.float32([0.05 * w, 0.05 * h])
        hm = cv2.getPerspectiveTransform(src, dst)
        tgt = cv2.warpPerspective(ref, hm, FOURK, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        gain, offset = rng.uniform(0.75, 1.2), rng.uniform(-20, 20)
        tgt = np.clip(tgt.astype(np.float32) * gain + offset + rng.normal(0, 3, tgt.shape), 0, 255).astype(np.uint8)
        out.append((tgt, ref, hm, f.name))
    return out


def speed(n_pairs: int, repeats: int, fullres: bool) -> dict:
    rows = []
    for tgt, ref, hm, name in make_4k_pairs(n_pairs):
        full_t, cached_t = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            a = align_pair(tgt, ref)
            full_t.append(time.perf_counter() - t0)
        cache = FeatureCache()
        align_pair(tgt, ref, cache=cache)
        for _ in range(repeats):
            t0 = time.perf_counter()
            c = align_pair(tgt, ref, cache=cache)
            cached_t.append(time.perf_counter() - t0)
        err = corner_error(a.homography, hm, FOURK) if a.ok else float("inf")
        row = {
            "source": name,
            "ok": a.ok and c.ok,
            "corner_error_px": err,
            "seconds_full": statistics.median(full_t),
            "seconds_cached": statistics.median(cached_t),
            "stages_ms": {k: round(v, 1) for k, v in c.timings_ms.items()},
        }
        if fullres:
            t0 = time.perf_counter()
            fr = align_pair(tgt, ref, max_side=0, nfeatures=8000, refine=False, views=False, warp=False)
            row["seconds_fullres_sift"] = time.perf_counter() - t0
            row["fullres_corner_error_px"] = corner_error(fr.homography, hm, FOURK) if fr.ok else float("inf")
        rows.append(row)
        extra = (
            f"  full-res SIFT {row['fullres_corner_error_px']:.3f} px in {row['seconds_fullres_sift']:.1f} s"
            if fullres
            else ""
        )
        print(f"  {name:28s} full {row['seconds_full']:.3f} s  cached {row['seconds_cached']:.3f} s  "
              f"err {err:.3f} px{extra}", flush=True)  # fmt: skip
    res = {
        "pairs": rows,
        "median_seconds_full": statistics.median(r["seconds_full"] for r in rows),
        "median_seconds_cached": statistics.median(r["seconds_cached"] for r in rows),
        "max_corner_error_px": max(r["corner_error_px"] for r in rows),
    }
    if fullres:
        res["max_error_excess_over_fullres_px"] = max(r["corner_error_px"] - r["fullres_corner_error_px"] for r in rows)
    return res


def synthetic_archive(n: int, per_waypoint: int = 6, spacing_m: float = 8.0, seed: int = 0) -> dict:
    """``n`` frames, ``per_waypoint`` of them within 1 m of each waypoint, each looking its own way."""
    rng = np.random.default_rng(seed)
    waypoints = n // per_waypoint
    side = int(np.ceil(np.sqrt(waypoints)))
    gx, gy = np.divmod(np.arange(waypoints), side)
    east = np.repeat(gx * spacing_m, per_waypoint) + rng.uniform(-0.5, 0.5, waypoints * per_waypoint)
    north = np.repeat(gy * spacing_m, per_waypoint) + rng.uniform(-0.5, 0.5, waypoints * per_waypoint)
    rel = np.repeat(rng.uniform(30, 60, waypoints), per_waypoint) + rng.normal(0, 0.3, waypoints * per_waypoint)
    m = len(east)
    return {
        "names": np.char.add("frame_", np.arange(m).astype(str)),
        "east": east,
        "north": north,
        "latitude": 35.0 + north / 111_320.0,
        "longitude": 139.0 + east / (111_320.0 * np.cos(np.radians(35.0))),
        "relative_altitude_m": rel,
        "absolute_altitude_m": rel + 40.0 + rng.normal(0, 5.0, m),  # GPS altitude: noisy
        "yaw": rng.uniform(-180, 180, m),
        "pitch": rng.uniform(-90, 15, m),
    }


def retrieval(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), queries: int = 2000) -> dict:
    from tenken.align.retrieve import ReferenceIndex

    rows = []
    for n in sizes:
        arc = synthetic_archive(n)
        t0 = time.perf_counter()
        index = ReferenceIndex.from_arrays(
            arc["names"],
            arc["latitude"],
            arc["longitude"],
            arc["absolute_altitude_m"],
            relative_altitude_m=arc["relative_altitude_m"],
            yaw_deg=arc["yaw"],
            pitch_deg=arc["pitch"],
        )
        build = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        truth = rng.integers(0, len(arc["names"]), queries)
        hits = {True: 0, False: 0}
        times = []
        for i in truth:
            noise = rng.normal(0, 1.5, 2)
            target = Telemetry(
                35.0 + (arc["north"][i] + noise[0]) / 111_320.0,
                139.0 + (arc["east"][i] + noise[1]) / (111_320.0 * np.cos(np.radians(35.0))),
                relative_altitude_m=float(arc["relative_altitude_m"][i] + rng.normal(0, 0.5)),
                gimbal_yaw=float(arc["yaw"][i] + rng.normal(0, 3.0)),
                gimbal_pitch=float(np.clip(arc["pitch"][i] + rng.normal(0, 2.0), -90, 90)),
            )
            for use_direction in (True, False):
                t0 = time.perf_counter()
                got = index.query(target, k=5, use_direction=use_direction).chosen
                if use_direction:
                    times.append(time.perf_counter() - t0)
                hits[use_direction] += bool(got) and got[0].name == arc["names"][i]
        row = {
            "frames": len(arc["names"]),
            "build_seconds": build,
            "top1_with_direction": hits[True] / queries,
            "top1_position_only": hits[False] / queries,
            "query_k5_median_ms": 1e3 * statistics.median(times),
            "query_k5_p95_ms": 1e3 * float(np.percentile(times, 95)),
            "queries": queries,
        }
        rows.append(row)
        print(
            f"  {row['frames']:>9,d} frames  build {build:5.2f} s  top-1 {row['top1_with_direction']:.1%} with "
            f"direction, {row['top1_position_only']:.1%} by position  query {row['query_k5_median_ms']:.3f} ms "
            f"(p95 {row['query_k5_p95_ms']:.3f})",
            flush=True,
        )
    return {"archives": rows}


def retrieval_table(ret: dict) -> list[tuple[str, str, str]]:
    out = []
    for r in ret["archives"]:
        n = f"{r['frames']:,d}"
        out += [
            (
                f"{n} frames: top-1 with / without direction",
                f"{r['top1_with_direction']:.1%} / {r['top1_position_only']:.1%}",
                "",
            ),
            (
                f"{n} frames: k=5 query median (p95)",
                f"{r['query_k5_median_ms']:.3f} ms ({r['query_k5_p95_ms']:.3f})",
                "< 1 ms" if r["frames"] >= 1_000_000 else "",
            ),
        ]
    big = ret["archives"][-1]
    out.append((f"index {big['frames']:,d} frames", f"{big['build_seconds']:.2f} s", "< 5 s"))
    return out


def print_table(table: list[tuple[str, str, str]]) -> None:
    print("\n| measure | tenken | target |\n|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5, help="4K pairs for the speed test")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per pair (median)")
    ap.add_argument("--skip-fullres", action="store_true", help="skip the ~8 s/pair full-resolution SIFT runs")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "align.json")
    ap.add_argument("--retrieval-only", action="store_true", help="only the retrieval benchmark (part 3)")
    args = ap.parse_args()
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
        "note": "2-core machine shared with other jobs; timings are noisy",
    }
    if args.retrieval_only:
        print("retrieval (synthetic archives, several frames per waypoint)")
        ret = retrieval()
        print_table(retrieval_table(ret))
        out = args.out.with_name("align_retrieval.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        result = {"machine": machine, "command": "python benchmarks/align.py --retrieval-only", "retrieval": ret}
        out.write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
        print(f"\nwrote {out}")
        return

    print("accuracy (dev homography sequences)")
    acc = accuracy()
    print("speed (3840x2160 pairs)")
    spd = speed(args.pairs, args.repeats, not args.skip_fullres)
    print("retrieval")
    ret = retrieval()

    table = [
        (
            "pairs within 3 px",
            f"{acc['within_3px']:.0%} (vanilla SIFT {acc['vanilla_within_3px']:.0%})",
            ">= 90%",
        ),
        (
            "pairs within 1 px",
            f"{acc['within_1px']:.0%} (vanilla SIFT {acc['vanilla_within_1px']:.0%})",
            ">= 65%",
        ),
        *(
            (
                f"{seq}: within 1 / 3 px, ok",
                f"{s['within_1px']:.0%} / {s['within_3px']:.0%}, {s['ok']:.0%}",
                "",
            )
            for seq, s in acc["per_sequence"].items()
        ),
        ("ok=True with error > 10 px", str(acc["ok_with_error_over_10px"]), "0"),
        ("4K pair, median", f"{spd['median_seconds_full']:.3f} s", "< 0.6 s"),
        ("4K pair, reference cached, median", f"{spd['median_seconds_cached']:.3f} s", "< 0.35 s"),
    ]
    if "max_error_excess_over_fullres_px" in spd:
        excess = spd["max_error_excess_over_fullres_px"]
        table.append(("4K error minus full-res SIFT's (worst)", f"{excess:+.3f} px", "<= 1.5 px"))
    print_table(table + retrieval_table(ret))

    result = {
        "machine": machine,
        "command": "python benchmarks/align.py" + (" --skip-fullres" if args.skip_fullres else ""),
        "accuracy": acc,
        "speed_4k": spd,
        "retrieval": ret,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
