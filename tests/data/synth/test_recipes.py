"""tool-rec, rec, spatial and caption-qa against the scripted teacher (truth known, errors at known rates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.core.boxes import box_iou
from tenken.data.format import BOX_MARK, read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.recipes.caption_qa import supported, word_count
from tenken.data.synth.recipes.spatial import box_contradicts
from tests.data.synth.conftest import make_teachers

pytestmark = pytest.mark.network


def _scene(scenes, sample):
    return {s.id: s for s in scenes}[Path(sample.images[0]).stem]


def test_tool_rec_keeps_self_consistent_descriptions(server, images_dir: Path, scenes, tmp_path: Path):
    _, url = server
    res = run_synth("tool-rec", images_dir, tmp_path, make_teachers(url, segmenter=None), {"targets": "objects"})
    kept, rejected = read_samples(res.samples), read_samples(res.rejected)
    assert kept and rejected
    for s in kept:
        (obj,) = _scene(scenes, s).resolve(s.boxes[0].label)  # the description names the boxed object
        assert box_iou(np.array([s.boxes[0].box]), np.array([obj.box]))[0, 0] >= 0.5
        assert s.messages[1].content == BOX_MARK and s.provenance.filters[0].score >= 0.5
        assert s.provenance.teachers == {"vlm": "teacher"}
    assert {r.provenance.rejected_by.name for r in rejected} == {"self_consistency"}
    assert all(r.provenance.rejected_by.threshold == 0.5 for r in rejected)


def test_rec_uses_segmenter_boxes_and_records_the_vlm_fallback(server, images_dir: Path, tmp_path: Path):
    _, url = server
    res = run_synth("rec", images_dir, tmp_path / "a", make_teachers(url))
    kept = read_samples(res.samples)
    assert kept and all(s.provenance.box_source == "segmenter" for s in kept)
    assert any(len(s.boxes) > 1 for s in kept)  # multi-instance expressions kept on purpose
    assert all(s.messages[1].content == BOX_MARK * len(s.boxes) for s in kept)
    # a segmenter that finds nothing: the VLM's boxes, said so in the provenance
    res = run_synth("rec", images_dir, tmp_path / "b", make_teachers(url, segmenter="garbage-seg"), limit=1)
    kept = read_samples(res.samples)
    assert kept and all(s.provenance.box_source == "vlm_fallback" for s in kept)
    assert "no instance" in kept[0].provenance.filters[0].reason
    res = run_synth(
        "rec", images_dir, tmp_path / "c", make_teachers(url, segmenter="garbage-seg"), {"fallback": False}, limit=1
    )
    assert res.kept == 0 and res.rejected_by == {"segmenter": res.dropped}
    res = run_synth("rec", images_dir, tmp_path / "d", make_teachers(url, segmenter=None), limit=1)
    kept = read_samples(res.samples)
    assert kept and all(s.provenance.box_source == "vlm" and "segmenter" not in s.provenance.teachers for s in kept)


def test_spatial_box_check_drops_contradicted_relations(server, images_dir: Path, scenes, tmp_path: Path):
    _, url = server
    res = run_synth("spatial", images_dir, tmp_path, make_teachers(url, segmenter=None, llm="qa-llm"))
    kept, rejected = read_samples(res.samples), read_samples(res.rejected)
    for s in kept:
        t = s.provenance.triplet
        scene = _scene(scenes, s)
        (a,), (b,) = scene.resolve(t["subject"]), scene.resolve(t["object"])
        assert not box_contradicts(t["relation"], a.box, b.box, 0.0)
        assert s.provenance.teachers == {"vlm": "teacher", "llm": "qa-llm"}
    names = {r.provenance.rejected_by.name for r in rejected}
    assert {"box_check", "relation"} <= names  # reversed relations, and the scripted "dancing_with"


@given(
    st.sampled_from(["left_of", "right_of", "above", "below"]),
    st.lists(st.floats(0, 1000), min_size=8, max_size=8),
)
def test_box_contradicts_is_the_opposite_relation(rel, v):
    a = [min(v[0], v[1]), min(v[2], v[3]), max(v[0], v[1]), max(v[2], v[3])]
    b = [min(v[4], v[5]), min(v[6], v[7]), max(v[4], v[5]), max(v[6], v[7])]
    opposite = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above"}[rel]
    assert box_contradicts(rel, a, b, 0.0) == (box_contradicts(opposite, b, a, 0.0))
    assert not box_contradicts(rel, a, a, 0.0)
    assert not box_contradicts("holding", a, b, 0.0)


def test_caption_qa_short_answers_are_supported(server, images_dir: Path, tmp_path: Path):
    _, url = server
    res = run_synth("caption-qa", images_dir, tmp_path, make_teachers(url, segmenter=None, llm="qa-llm"))
    kept = read_samples(res.samples)
    captions = {s.images[0]: s.messages[1].content for s in kept if s.task == "caption"}
    qa = [s for s in kept if s.task == "vqa"]
    short = [s for s in qa if s.provenance.variant == "short"]
    assert captions and short and any(s.provenance.variant == "free" for s in qa)
    for s in short:
        assert supported(s.messages[1].content, captions[s.images[0]])
        assert "single word or phrase" in s.messages[0].content
    assert supported("2", "There are 2 cars.") and not supported("3", "There are 23 cars.")
    assert word_count("赤い車") == 1 and word_count("the red car") == 3
