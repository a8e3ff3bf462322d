"""Each GRPO reward on hand-written completions, including the frame-mismatch trap (a detection reward that
is always 0 because the answer's boxes were compared in the model's frame, not the image's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tenken.core.errors import InputError
from tenken.train.rewards import REWARDS, Truth, grpo_reward_functions, score_completion
from tenken.vlm.families import get_family

QWEN25 = get_family("qwen2.5-vl")
SIZE = (1000, 500)  # smart_resize -> 1008 x 504: the model's frame differs from the image's


def truth(boxes=((100.0, 100.0, 300.0, 300.0),), labels=("cone",), family=QWEN25, **kw) -> Truth:
    return Truth(np.array(boxes, dtype=float).reshape(-1, 4), list(labels), SIZE, family, **kw)


def answer_in_model_frame(boxes, labels, family=QWEN25) -> str:
    return family.format_boxes(np.array(boxes, dtype=float), list(labels), SIZE)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>two cones</think><answer>[]</answer>", 1.0),
        ("<think>x</think>\n<answer>{}</answer>\n", 1.0),
        ("<answer>[]</answer>", 0.0),
        ("<think></think><answer>[]</answer>", 0.0),
        ("prefix <think>x</think><answer>[]</answer>", 0.0),
        ("<think>x</think><answer>[]</answer> trailing", 0.0),
    ],
)
def test_format(completion, expected):
    assert REWARDS.get("format")(completion) == expected


@pytest.mark.parametrize(
    ("completion", "expected"),
    [('[{"a": 1}]', 1.0), ('<think>t</think><answer>```json\n{"a": 1}\n```</answer>', 1.0), ("[{'a': 1}]", 0.0),
     ('[{"a": 1}', 0.0), ("", 0.0)],
)  # fmt: skip
def test_json(completion, expected):
    assert REWARDS.get("json")(completion) == expected


def test_schema_with_the_report_schema(repo_root):
    schema = repo_root / "tenken" / "schemas" / "report.schema.json"
    reward = REWARDS.get("schema")
    assert reward("not json", schema=str(schema)) == 0.0
    assert reward('{"schema": 3}', schema=str(schema)) == 0.0
    small = {"type": "object", "required": ["label"], "properties": {"label": {"type": "string"}}}
    assert reward('{"label": "cone"}', schema=small) == 1.0
    assert reward('{"label": 3}', schema=small) == 0.0
    with pytest.raises(InputError):
        reward('{"label": "cone"}')
    with pytest.raises(InputError, match="invalid JSON Schema"):
        reward("{}", schema={"type": "no-such-type"})


def test_count_consistency_and_truth():
    reward = REWARDS.get("count")
    two = answer_in_model_frame([[0, 0, 10, 10], [20, 20, 40, 40]], ["a", "b"])
    assert reward(two, truth(((0, 0, 1, 1), (2, 2, 3, 3)), ("a", "b"))) == 1.0
    assert reward(two, truth()) == 0.5  # two boxes, one in truth
    stated = json.dumps({"count": 3, "objects": json.loads(two)})
    assert reward(stated, truth()) == pytest.approx(2 / 3)  # consistency with its own count
    assert reward("none here", truth((), ())) == 1.0


def test_iou_f1_reads_boxes_in_the_family_frame():
    """The trap: the same numbers mean different pixels in Qwen2.5-VL's resized frame."""
    t = truth(((0.0, 0.0, 1000.0, 500.0),), ("all",))
    right = answer_in_model_frame([[0, 0, 1000, 500]], ["all"])  # -> [0, 0, 1008, 504]
    assert REWARDS.get("iou_f1")(right, t) == 1.0
    # a completion written in original pixels is not what this model writes; it must not score as if it were
    small = truth(((500.0, 250.0, 1000.0, 500.0),), ("q",))
    in_model_frame = answer_in_model_frame([[500, 250, 1000, 500]], ["q"])
    raw_pixels = json.dumps([{"bbox_2d": [500, 250, 1000, 500], "label": "q"}])
    assert REWARDS.get("iou_f1")(in_model_frame, small) == 1.0
    assert REWARDS.get("rec_iou")(raw_pixels, small) < REWARDS.get("rec_iou")(in_model_frame, small)
    # and a 0–1000 family must not be read as pixels (the always-0 reward of other projects)
    rel = get_family("qwen3-vl")
    t3 = truth(((100.0, 100.0, 300.0, 300.0),), ("cone",), family=rel)
    assert REWARDS.get("iou_f1")('[{"bbox_2d": [100, 200, 300, 600], "label": "cone"}]', t3) == 1.0


def test_iou_f1_is_label_aware_and_greedy():
    t = truth(((0, 0, 100, 100), (200, 200, 300, 300)), ("cone", "glove"))
    both = answer_in_model_frame([[0, 0, 100, 100], [200, 200, 300, 300]], ["cone", "helmet"])
    reward = REWARDS.get("iou_f1")
    assert reward(both, t) == pytest.approx(0.5)  # 2*1/(2+2)
    assert reward(both, t, labels=False) == 1.0
    assert reward("", truth((), ())) == 1.0  # nothing to find, nothing answered


def test_attributes_over_matched_pairs():
    t = truth(((0, 0, 100, 100), (200, 200, 300, 300)), ("a", "b"),
              attributes=[{"part": "pipe", "quality": "rust"}, {"part": "valve"}])  # fmt: skip
    items = json.loads(answer_in_model_frame([[0, 0, 100, 100], [600, 400, 700, 500]], ["a", "b"]))
    items[0].update(part="Pipe", quality="crack")
    items[1].update(part="valve")  # not matched (wrong place): does not count
    assert REWARDS.get("attributes")(json.dumps(items), t) == pytest.approx(1 / 3)
    assert REWARDS.get("attributes")("no json", t) == 0.0


def test_gibberish():
    reward = REWARDS.get("gibberish")
    assert reward('[{"bbox_2d": [1, 2, 3, 4], "label": "cone"}]') == 1.0
    assert reward("ab" * 200) < 0.3
    assert reward("\ufffd\x1b\x02ok") < 0.5
    assert reward("") == 0.0


def test_rec_iou():
    t = truth(((0.0, 0.0, 100.0, 100.0),), ("x",))
    half = answer_in_model_frame([[0, 0, 100, 50]], ["x"])
    assert REWARDS.get("rec_iou")(half, t) == pytest.approx(0.5, abs=0.02)
    assert REWARDS.get("rec_iou")("no box", t) == 0.0


def test_weighted_total_and_trl_functions():
    t = truth()
    good = "<think>one cone</think><answer>" + answer_in_model_frame([[100, 100, 300, 300]], ["cone"]) + "</answer>"
    scores = score_completion(good, t, {"format": 1, "iou_f1": 3})
    assert scores["format"] == 1.0 and scores["iou_f1"] == 1.0 and scores["total"] == 1.0
    fns = grpo_reward_functions(["iou_f1", "json"], QWEN25)
    cols = {"boxes": [[[100, 100, 300, 300]]], "labels": [["cone"]], "image_size": [list(SIZE)]}
    completions = [[{"role": "assistant", "content": good}]]
    assert [f.__name__ for f in fns] == ["iou_f1", "json"]
    assert fns[0](prompts=[None], completions=completions, **cols) == [1.0]
    assert fns[1](prompts=[None], completions=completions, **cols) == [1.0]
    with pytest.raises(InputError, match="reward"):
        grpo_reward_functions(["nope"], QWEN25)
