"""The count recipe: the dual-agreement gate, the countable filter, and what a teacher failure costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenken.data.format import read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.recipes.count import UNCOUNTABLE, is_uncountable
from tests.data.synth.conftest import make_teachers

pytestmark = pytest.mark.network


@pytest.mark.parametrize(
    ("expr", "stuff"),
    [("sky", True), ("the blue sky", True), ("Grass", True), ("青い空", True), ("空き缶", False), ("cars", False),
     ("people wearing helmets", False), ("水", True), ("water bottles", True), ("bottles", False)],
)  # fmt: skip
def test_is_uncountable(expr, stuff):
    assert is_uncountable(expr, list(UNCOUNTABLE)) is stuff


def test_agreement_gate_keeps_only_matching_counts(server, images_dir: Path, scenes, tmp_path: Path):
    _, url = server
    by_id = {s.id: s for s in scenes}
    summary = run_synth("count", images_dir, tmp_path / "gated", make_teachers(url))
    kept = read_samples(summary.samples)
    rejected = read_samples(summary.rejected)
    assert kept and rejected
    for s in kept:
        prov = s.provenance
        assert prov.vlm_count == prov.segmenter_count == int(s.messages[1].content)
        assert [f.name for f in prov.filters] == ["countable", "count_agreement"] and all(f.keep for f in prov.filters)
        assert len(s.boxes) == prov.vlm_count and s.images[0].startswith("..")
        assert s.provenance.teachers == {"vlm": "teacher", "segmenter": "grounding:segmenter"}
        assert s.provenance.prompt_version == "count.expressions/1"
    reasons = {s.provenance.rejected_by.name for s in rejected}
    assert "countable" in reasons  # the scripted teacher always offers "sky"
    sky = [s for s in rejected if s.provenance.rejected_by.name == "countable"]
    assert len(sky) == len(scenes) and all("sky" in s.messages[0].content for s in sky)
    for s in rejected:
        if s.provenance.rejected_by.name == "count_agreement":
            assert s.provenance.vlm_count != s.provenance.segmenter_count
    # without the gate more samples are kept, including wrong ones
    ungated = read_samples(
        run_synth("count", images_dir, tmp_path / "open", make_teachers(url), {"agreement": False}).samples
    )
    assert len(ungated) > len(kept)

    def wrong(s) -> int:
        scene = by_id[Path(s.images[0]).stem]
        expr = s.messages[0].content.split("How many ")[1].split(" are there")[0]
        return int(s.messages[1].content) != len(scene.resolve(expr))

    assert sum(map(wrong, kept)) / len(kept) < sum(map(wrong, ungated)) / len(ungated)


def test_segmenter_failure_costs_one_sample_and_garbage_is_recorded(server, images_dir: Path, tmp_path: Path):
    teacher, url = server
    teacher.fail_next["segmenter"] = 1  # the first segmenter request answers HTTP 500
    summary = run_synth("count", images_dir, tmp_path / "a", make_teachers(url), limit=1)
    rejected = read_samples(summary.rejected)
    failed = [s for s in rejected if s.provenance.rejected_by.name == "teacher"]
    assert len(failed) == 1 and "segmenter" in failed[0].provenance.rejected_by.reason
    assert summary.run.failed == 0  # the item itself went on
    summary = run_synth("count", images_dir, tmp_path / "b", make_teachers(url, vlm="garbage"), limit=2)
    rows = read_samples(summary.rejected)
    assert summary.kept == 0 and len(rows) == 2
    assert all(r.provenance.rejected_by.name == "parse" and "garbage" in r.messages[1].content for r in rows)


def test_japanese_prompts_and_samples(server, images_dir: Path, tmp_path: Path):
    teacher, url = server
    res = run_synth("count", images_dir, tmp_path, make_teachers(url), {"lang": "ja"}, limit=2)
    kept = read_samples(res.samples)
    assert kept and all(s.lang == "ja" and "はいくつありますか" in s.messages[0].content for s in kept)
    assert any(p.startswith("画像に写っている物体の種類") for p in teacher.calls)
    assert any(p.startswith("画像の中の「") for p in teacher.calls)
