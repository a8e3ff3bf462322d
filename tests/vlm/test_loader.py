"""load_vlm and the transformers backend, on tiny random-weight checkpoints loaded like a user's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tenken.core.errors import InputError, ModelLoadError
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.loader import load_vlm, parse_openai_spec


def _img(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_openai_spec():
    assert parse_openai_spec("openai:Qwen/Qwen2.5-VL-7B-Instruct@http://127.0.0.1:8000/v1") == (
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "http://127.0.0.1:8000/v1",
    )
    assert parse_openai_spec("/models/qwen") is None
    with pytest.raises(InputError, match="openai:MODEL@"):
        parse_openai_spec("openai:qwen")
    with pytest.raises(InputError, match="name the family"):
        load_vlm("openai:qwen@http://127.0.0.1:8000/v1")
    with pytest.raises(InputError, match="unknown load_vlm option"):
        load_vlm("openai:qwen@http://127.0.0.1:8000/v1", family="qwen3-vl", temprature=0.1)
    vlm = load_vlm("openai:qwen@http://127.0.0.1:8000", family="qwen2.5-vl", max_pixels=28 * 28 * 16)
    assert vlm.backend.base_url == "http://127.0.0.1:8000/v1"
    assert vlm.describe() == {"backend": "openai", "name": "qwen", "family": "qwen2.5-vl"}
    assert vlm.processed_size((1920, 1080)) == (140, 84)


def test_missing_checkpoint_is_a_model_load_error(tmp_path):
    # not the hub's "Repo id must be in the form 'repo_name'" for a folder that does not exist
    with pytest.raises(ModelLoadError, match="nope: model directory not found"):
        load_vlm(str(tmp_path / "nope"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_vlm(str(tmp_path / "config.json"))


def test_checkpoint_without_processor_files_says_so(tiny_qwen25_path, tmp_path):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((tiny_qwen25_path / name).read_bytes())
    with pytest.raises(ModelLoadError, match="no processor or tokenizer files") as info:
        load_vlm(str(tmp_path))
    assert "huggingface.co" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"family": "gpt"}, "unknown model family"), ({"box_format": "weird"}, "box_format must be one of")],
)
def test_family_and_box_format_checked_before_the_model_loads(monkeypatch, options, message):
    import tenken.vlm.backends.hf as hf

    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(hf, "TransformersBackend", must_not_load)
    with pytest.raises(InputError, match=message):
        load_vlm("Qwen/Qwen2.5-VL-3B-Instruct", **options)


def test_tiny_llava_loads_as_a_user_checkpoint(tiny_llava, tiny_llava_path):
    assert tiny_llava.family.name == "llava"  # detected from config.json model_type
    assert tiny_llava.backend.name == "transformers"
    assert tiny_llava.name == str(tiny_llava_path)
    assert tiny_llava.backend.tokenizer.padding_side == "left"
    assert str(tiny_llava.backend.device) == "cpu"


def test_batched_generation_matches_one_by_one(tiny_llava):
    reqs = [
        VLMRequest("画像の中に何がありますか？", [_img(40, 60, 1)]),
        VLMRequest("Locate every traffic cone in the image.", [_img(90, 30, 2)], max_new_tokens=5),
        VLMRequest("How many?", [_img(32, 32, 3)], system="Answer briefly."),
    ]
    before = tiny_llava.stats.completed
    batched = tiny_llava.generate(reqs)
    assert len(batched) == 3 and all(isinstance(a, str) for a in batched)
    assert tiny_llava.stats.completed - before == 3
    single = [tiny_llava.generate([r])[0] for r in reqs]
    assert batched == single  # left padding + attention mask: batching does not change greedy answers


def test_text_only_and_mixed_batches(tiny_llava):
    out = tiny_llava.generate([VLMRequest("hello"), VLMRequest("what is this?", [_img(20, 20, 4)])])
    assert len(out) == 2


def test_max_new_tokens_caps_the_answer(tiny_llava, monkeypatch):
    model = tiny_llava.backend.model
    real = model.generate
    seen = {}

    def spy(**kwargs):
        out = real(**kwargs)
        seen["new"] = out.shape[1] - kwargs["input_ids"].shape[1]
        seen["max_new_tokens"] = kwargs["max_new_tokens"]
        return out

    monkeypatch.setattr(model, "generate", spy)
    tiny_llava.generate([VLMRequest("describe", [_img(32, 32, 5)], max_new_tokens=3)])
    assert seen["max_new_tokens"] == 3 and seen["new"] <= 3


def test_a_failing_chunk_keeps_the_other_answers(tiny_llava_path, monkeypatch):
    vlm = load_vlm(str(tiny_llava_path), batch_size=1, max_new_tokens=2)
    real = vlm.backend._generate_chunk

    def flaky(chunk):
        if chunk[0].prompt == "bad":
            raise RuntimeError("out of memory")
        return real(chunk)

    monkeypatch.setattr(vlm.backend, "_generate_chunk", flaky)
    with pytest.raises(BackendError, match="1 of 3") as info:
        vlm.generate([VLMRequest("a", [_img(16, 16, 0)]), VLMRequest("bad"), VLMRequest("c", [_img(16, 16, 1)])])
    assert [r is None for r in info.value.results] == [False, True, False]
    assert "out of memory" in info.value.errors[1] and vlm.stats.failures == 1


def test_batch_size_chunks(tiny_llava_path):
    vlm = load_vlm(str(tiny_llava_path), batch_size=2, max_new_tokens=2, family="llava", box_format="rel1")
    assert vlm.family.box_format == "rel1"
    assert len(vlm.generate([VLMRequest(f"q{i}", [_img(16, 16, i)]) for i in range(5)])) == 5


def test_trust_remote_code_is_off_by_default(tiny_llava):
    assert tiny_llava.backend.config.model_type == "llava"
    with pytest.raises(ModelLoadError, match="dtype"):
        load_vlm(str(tiny_llava.name), dtype="float99")


def test_tiny_qwen25_reads_resize_from_its_processor(tiny_qwen25_path):
    vlm = load_vlm(str(tiny_qwen25_path), max_new_tokens=4)
    assert vlm.family.name == "qwen2.5-vl"
    assert (vlm.family.factor, vlm.family.max_pixels) == (28, 28 * 28 * 16)
    answers = vlm.generate([VLMRequest("cone?", [_img(100, 150, 1)]), VLMRequest("コーン", [_img(60, 60, 2)])])
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    # the family's resize rule is the processor's: compare with the grid the processor actually produced
    proc = vlm.backend.image_processor
    for h, w in [(100, 150), (1080, 1920), (37, 500), (3000, 20)]:
        grid = proc(images=[Image.fromarray(_img(h, w, 0))], return_tensors="np")["image_grid_thw"][0]
        assert vlm.processed_size((w, h)) == (int(grid[2]) * 14, int(grid[1]) * 14)


def test_tiny_qwen25_grounding_end_to_end(tiny_qwen25_path):
    from tenken.tasks.grounding import ground

    vlm = load_vlm(str(tiny_qwen25_path), max_new_tokens=6)
    dets = ground(vlm, _img(90, 120, 3), "カラーコーン", warnings_out=[])
    assert dets.image_size == (120, 90)


def test_public_api_exports():
    import tenken
    from tenken.tasks import anomaly, counting, factory, grounding, vqa

    assert tenken.load_vlm is load_vlm
    assert (tenken.ask, tenken.ground, tenken.count, tenken.classify_task) == (
        vqa.ask, grounding.ground, counting.count, factory.classify_task,
    )  # fmt: skip
    assert tenken.VLMCandidateDetector is anomaly.VLMCandidateDetector and tenken.VLMLabeller is anomaly.VLMLabeller


def test_ollama_style_model_names_with_colons():
    assert parse_openai_spec("openai:qwen2.5vl:7b@http://127.0.0.1:11434/v1") == (
        "qwen2.5vl:7b",
        "http://127.0.0.1:11434/v1",
    )


def test_remote_code_needs_an_explicit_opt_in(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "plamo2_vl", "auto_map": {"AutoConfig": "cfg.PlamoConfig"}}')
    with pytest.raises(ModelLoadError, match="trust_remote_code=True"):
        load_vlm(str(tmp_path))


def test_tiny_qwen3_detected_and_grounds(tiny_qwen3_path):
    from tenken.tasks.grounding import ground
    from tenken.vlm.loader import _processor_resize_options

    vlm = load_vlm(str(tiny_qwen3_path), max_new_tokens=6)
    assert vlm.family.name == "qwen3-vl" and vlm.family.box_format == "rel1000"
    assert _processor_resize_options(vlm.backend.image_processor)["factor"] == 32  # patch 16 x merge 2
    dets = ground(vlm, _img(70, 130, 5), "cone", lang="en", warnings_out=[])
    assert dets.image_size == (130, 70)


def test_missing_vlm_extra_names_the_install_command(monkeypatch, tiny_llava_path):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # as on a core-only install: import fails
    with pytest.raises(ModelLoadError, match=r"pip install 'tenken\[vlm\]'"):
        load_vlm(str(tiny_llava_path))


def test_missing_httpx_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "httpx" else real(name, *a))
    with pytest.raises(ModelLoadError, match=r"pip install 'tenken\[vlm\]'"):
        load_vlm("openai:m@http://127.0.0.1:9/v1", family="llava")
