"""VQA, grounding, counting and factory-task classification: prompts, parsing and box mapping."""

from __future__ import annotations

import numpy as np
import pytest

from tenken.configs import load_task_set
from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.tasks.counting import count
from tenken.tasks.factory import classify_task, normalize_task_answer, task_prompt
from tenken.tasks.grounding import ground
from tenken.tasks.vqa import ask
from tests.vlm.fakes import scripted_vlm

IMG = np.zeros((500, 1000, 3), dtype=np.uint8)  # 1000 x 500


def test_ask_short_adds_the_instruction_in_each_language():
    vlm = scripted_vlm("  赤いコーン \n")
    assert ask(vlm, IMG, "何色ですか？", short=True) == "赤いコーン"
    assert "短いフレーズ" in vlm.backend.seen[-1].prompt
    ask(vlm, IMG, "What colour?", lang="en", short=True)
    assert "single word or phrase" in vlm.backend.seen[-1].prompt
    ask(vlm, IMG, "plain")
    assert vlm.backend.seen[-1].prompt == "plain" and vlm.backend.seen[-1].images[0].shape == (500, 1000, 3)
    with pytest.raises(InputError):
        ask(vlm, IMG, "q", lang="fr", short=True)


def test_ground_returns_every_instance_in_image_pixels():
    answer = '```json\n[{"bbox_2d": [100, 100, 200, 300], "label": "cone"}, {"bbox_2d": [500, 500, 600, 900]}]\n```'
    vlm = scripted_vlm(answer, family="qwen3-vl")
    dets = ground(vlm, IMG, "all the cones", lang="en")
    assert isinstance(dets, Detections) and dets.image_size == (1000, 500)
    np.testing.assert_allclose(dets.xyxy, [[100, 50, 200, 150], [500, 250, 600, 450]])
    assert dets.labels == ["cone", "all the cones"]  # no label -> the expression
    assert "all the cones" in vlm.backend.seen[-1].prompt and "bbox_2d" in vlm.backend.seen[-1].prompt


def test_ground_qwen25_uses_the_resized_frame():
    vlm = scripted_vlm('[{"bbox_2d": [14, 21, 70, 42]}]', family="qwen2.5-vl", max_pixels=28 * 28 * 16)
    img = np.zeros((1080, 1920, 3), dtype=np.uint8)
    np.testing.assert_allclose(ground(vlm, img, "cone").xyxy, [[192, 270, 960, 540]])


def test_ground_unparsable_gives_empty_and_warning():
    notes: list[str] = []
    assert len(ground(scripted_vlm("no idea"), IMG, "x", warnings_out=notes)) == 0
    assert notes


def test_count_parses_and_falls_back_to_grounding():
    assert count(scripted_vlm("カラーコーンは3個です。"), IMG, "カラーコーン") == 3

    def answer(req):
        return "several" if "いくつ" in req.prompt else '[{"bbox_2d": [1, 1, 9, 9]}, {"bbox_2d": [20, 20, 30, 30]}]'

    vlm = scripted_vlm(answer)
    assert count(vlm, IMG, "コーン") == 2
    assert len(vlm.backend.seen) == 2  # asked, then grounded


TASKS = load_task_set()


@pytest.mark.parametrize(
    ("answer", "task"),
    [("tightening_bolts", "tightening_bolts"), ("ボルト締め", "tightening_bolts"),
     ("The answer is: soldering.", "soldering"), ('{"task": "measuring"}', "measuring"),
     ("The worker holds a soldering iron", "soldering"),
     ("I don't know", "unknown"), ("", "unknown")],
)  # fmt: skip
def test_task_answers_normalised(answer, task):
    assert normalize_task_answer(answer, TASKS) == task


def test_classify_task_prompt_lists_tools_with_descriptions():
    vlm = scripted_vlm("cleaning")
    assert classify_task(vlm, IMG, TASKS, lang="en") == "cleaning"
    prompt = vlm.backend.seen[-1].prompt
    for t in TASKS.tasks:
        assert t.id in prompt and t.tool.en in prompt and t.description.en in prompt
    assert "トルクレンチ" in task_prompt(TASKS, "ja")


def test_every_task_on_the_tiny_model_is_well_typed(tiny_llava):
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert isinstance(ask(tiny_llava, img, "何？", short=True), str)
    dets = ground(tiny_llava, img, "コーン", warnings_out=[])
    assert isinstance(dets, Detections) and dets.image_size == (64, 48)
    n = count(tiny_llava, img, "cones", lang="en")
    assert isinstance(n, int) and n >= 0
    assert classify_task(tiny_llava, img, TASKS) in {*TASKS.ids, "unknown"}


def test_ground_on_a_real_photo_maps_to_its_pixels(assets):
    from tenken.core.images import image_size, load_image

    path = assets / "backgrounds" / "sam_truck.jpg"
    w, h = image_size(load_image(path))
    vlm = scripted_vlm('[{"bbox_2d": [250, 500, 750, 1000], "label": "トラック"}]', family="qwen3-vl")
    dets = ground(vlm, path, "トラック")
    assert dets.image_size == (w, h)
    np.testing.assert_allclose(dets.xyxy, [[w / 4, h / 2, 3 * w / 4, h]])
    assert vlm.backend.seen[-1].images[0].shape == (h, w, 3)
