"""Training examples: marks filled for the checkpoint's family, the trained prompt equal to the inference
prompt token for token, the loss only on the answer, language mixing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tenken.core.errors import InputError
from tenken.data.format import Message, Provenance, TrainingSample, read_samples
from tenken.tasks.grounding import grounding_prompt
from tenken.train.examples import SampleDataset, mix_languages, to_example
from tenken.train.validate import request_for
from tenken.vlm.families import get_family
from tenken.vlm.loader import load_vlm
from tenken.vlm.parse import parse_detections


@pytest.mark.parametrize("which", ["tiny_qwen25_path", "tiny_llava_path"])
def test_trained_prompt_is_the_inference_prompt_and_loss_is_on_the_answer(which, request, colour_data):
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    vlm = load_vlm(str(request.getfixturevalue(which)))
    backend = vlm.backend
    ds = SampleDataset(colour_data, vlm.family)
    example = ds[0]
    sample = ds.samples[0]
    req = request_for(example, 16)
    assert req is not None
    expression = sample.boxes[0].label
    assert req.prompt == grounding_prompt(vlm, expression, sample.lang)  # what `tenken eval run rec` asks

    batch = DataCollatorForVisionLanguageModeling(backend.processor, completion_only_loss=True)([dict(example)])
    ids, labels, mask = batch["input_ids"][0], batch["labels"][0], batch["attention_mask"][0]
    prompt_ids = ids[(labels == -100) & (mask == 1)]
    rendered = backend.processor(text=[backend._render(req)], images=[[example["images"][0]]], return_tensors="pt")
    assert prompt_ids.tolist() == rendered["input_ids"][0].tolist()
    answer = backend.tokenizer.decode(labels[labels != -100], skip_special_tokens=True)
    size = (example["images"][0].width, example["images"][0].height)
    back = parse_detections(answer, vlm.family, size)
    assert np.allclose(back.xyxy, [sample.boxes[0].box], atol=size[0] / 50)


def test_qwen25_targets_use_the_processor_resize(tiny_qwen25_path, colour_data):
    vlm = load_vlm(str(tiny_qwen25_path))
    ds = SampleDataset(colour_data, vlm.family)
    answer = json.loads(ds[0]["completion"][0]["content"][0]["text"])
    box = ds.samples[0].boxes[0].box
    pw, ph = vlm.family.processed_size((32, 32))
    assert (pw, ph) != (32, 32)
    assert answer[0]["bbox_2d"] == [round(box[0] * pw / 32), round(box[1] * ph / 32),
                                    round(box[2] * pw / 32), round(box[3] * ph / 32)]  # fmt: skip


def _sample(i: int, lang: str) -> TrainingSample:
    return TrainingSample(
        id=f"s{i}", messages=[Message(role="user", content="q"), Message(role="assistant", content="a")],
        task="vqa", lang=lang, provenance=Provenance(recipe="t"),
    )  # fmt: skip


def test_mix_languages_keeps_the_ratio_without_repeating():
    samples = [_sample(i, "ja") for i in range(30)] + [_sample(100 + i, "en") for i in range(10)]
    mixed = mix_languages(samples, {"ja": 1, "en": 1})
    assert sum(s.lang == "ja" for s in mixed) == 10 and sum(s.lang == "en" for s in mixed) == 10
    assert len({s.id for s in mixed}) == 20
    assert len(mix_languages(samples, {"ja": 2, "en": 1})) == 30
    assert mix_languages(samples, None) == samples
    ja_only = samples[:30]
    assert len(mix_languages(ja_only, {"ja": 1, "en": 1})) == 30  # a missing language does not empty the set


def test_errors_name_the_input(tmp_path, colour_data):
    with pytest.raises(InputError, match="not found"):
        SampleDataset(tmp_path / "nope.jsonl", get_family("llava"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(InputError, match="no usable training samples"):
        SampleDataset(bad, get_family("llava"))
    sample = read_samples(colour_data)[0]
    no_answer = sample.model_copy(update={"messages": sample.messages[:1]})
    with pytest.raises(InputError, match="assistant"):
        to_example(no_answer, [], get_family("llava"))
