"""SFT and GRPO runs of a few steps on tiny models, through the CLI, loaded back by tenken.load_vlm; assembly
of a LLaVA from a tiny SigLIP and a tiny Qwen2 LM; LoRA merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenken.cli import app
from tenken.train.assemble import assemble
from tenken.vlm.loader import load_vlm

runner = CliRunner()
TINY = [
    "--set", "training.max_steps=2", "--set", "training.per_device_train_batch_size=4",
    "--set", "early_stopping.every_steps=1", "--set", "early_stopping.samples=2",
    "--set", "early_stopping.max_new_tokens=4", "--set", "training.save_steps=1",
]  # fmt: skip


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sft_full_then_resume_and_load(tiny_llava_path, colour_data, colour_val, tmp_path):
    out = tmp_path / "sft"
    args = ["train", "sft", "-r", "full", "-d", str(colour_data), "--val", str(colour_val), "-m", str(tiny_llava_path),
            "-o", str(out), "--box-format", "pixels", *TINY, "--json"]  # fmt: skip
    summary = _json(runner.invoke(app, args))
    assert summary["steps"] == 2 and summary["family"] == "llava"
    assert [v["step"] for v in summary["validation"]] == [1, 2]
    assert (out / "validation.jsonl").read_text().count("\n") == 2
    assert any(out.glob("checkpoints/checkpoint-*"))
    vlm = load_vlm(str(out), max_new_tokens=4)
    assert (vlm.family.name, vlm.family.box_format) == ("llava", "pixels")  # inference reads the trained frame
    assert load_vlm(str(out), box_format="rel1000").family.box_format == "rel1000"  # an explicit choice wins
    resumed = _json(runner.invoke(app, [*args[:-1], "--set", "training.max_steps=3", "--resume", "--json"]))
    assert resumed["steps"] == 3


def test_lora_sft_exports_a_merged_checkpoint(tiny_qwen25_path, colour_data, tmp_path):
    out = tmp_path / "lora"
    summary = _json(
        runner.invoke(
            app,
            [
                "train",
                "sft",
                "-r",
                "lora-sft",
                "-d",
                str(colour_data),
                "-m",
                str(tiny_qwen25_path),
                "-o",
                str(out),
                *TINY,
                "--set",
                "lora.r=4",
                "--json",
            ],
        )
    )
    assert 0 < summary["trainable_parameters"] < summary["total_parameters"]
    assert not (out / "adapter_config.json").exists()  # merged: a plain checkpoint
    assert load_vlm(str(out)).family.name == "qwen2.5-vl"
    merged = tmp_path / "merged"
    r = runner.invoke(app, ["train", "merge", "--base", str(tiny_qwen25_path), "--adapter", str(out / "adapter"),
                            "-o", str(merged), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    import torch
    from safetensors.torch import load_file

    a, b = load_file(out / "model.safetensors"), load_file(merged / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    bad = runner.invoke(app, ["train", "merge", "--base", str(tiny_qwen25_path), "--adapter", str(tmp_path), "-o",
                              str(tmp_path / "m2")])  # fmt: skip
    assert bad.exit_code != 0 and "adapter_config.json" in bad.output


def test_resume_without_checkpoints_is_an_error(tiny_llava_path, colour_data, tmp_path):
    r = runner.invoke(app, ["train", "sft", "-r", "full", "-d", str(colour_data), "-m", str(tiny_llava_path),
                            "-o", str(tmp_path / "none"), "--resume"])  # fmt: skip
    assert r.exit_code != 0 and "nothing to resume" in r.output


def test_grpo_runs_with_rewards_and_logs_them(tiny_qwen25_path, colour_data, colour_val, tmp_path):
    out = tmp_path / "grpo"
    summary = _json(
        runner.invoke(
            app,
            [
                "train",
                "grpo",
                "-r",
                "grpo-full",
                "-d",
                str(colour_data),
                "--val",
                str(colour_val),
                "-m",
                str(tiny_qwen25_path),
                "-o",
                str(out),
                *TINY,
                "--set",
                "training.num_generations=2",
                "--set",
                "training.max_completion_length=4",
                "--reward",
                "rec_iou=1",
                "--reward",
                "gibberish=0.5",
                "--json",
            ],
        )
    )
    assert summary["rewards"] == {"rec_iou": 1.0, "gibberish": 0.5}
    assert set(summary["validation_before"]["rewards"]) == {"rec_iou", "gibberish", "total"}
    assert any("rewards/rec_iou/mean" in h for h in summary["train_rewards"])
    assert load_vlm(str(out)).family.name == "qwen2.5-vl"


def _tiny_parts(root: Path) -> tuple[Path, Path]:
    """A 2-layer SigLIP vision tower (8-px patches on 32x32) and a 2-layer Qwen2 LM with a chat tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel

    from tests.vlm.tiny_models import QWEN_SPECIALS, _tokenizer

    torch.manual_seed(0)
    vcfg = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8)  # fmt: skip
    SiglipVisionModel(vcfg).save_pretrained(root / "siglip")  # no image processor saved: built from the config
    tok = _tokenizer(QWEN_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    lm = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=1))  # fmt: skip
    lm.save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    return root / "siglip", root / "lm"


def test_assemble_siglip_and_qwen2_into_a_loadable_llava(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, SiglipVisionModel

    vision, lm = _tiny_parts(tmp_path)
    info = assemble(vision, lm, tmp_path / "vlm")
    assert info["image_tokens"] == 16  # (32 / 8)^2 patches, all kept: "full" selection, no CLS
    config = json.loads((tmp_path / "vlm" / "config.json").read_text())
    assert config["vision_feature_select_strategy"] == "full" and config["model_type"] == "llava"
    vlm = load_vlm(str(tmp_path / "vlm"), max_new_tokens=3)
    assert vlm.family.name == "llava"
    model = vlm.backend.model
    src_v = SiglipVisionModel.from_pretrained(vision)
    src_l = AutoModelForCausalLM.from_pretrained(lm)
    assert torch.equal(model.model.vision_tower.embeddings.patch_embedding.weight,
                       src_v.embeddings.patch_embedding.weight)  # fmt: skip
    n = src_l.get_input_embeddings().weight.shape[0]
    assert torch.equal(model.model.language_model.layers[0].self_attn.q_proj.weight,
                       src_l.model.layers[0].self_attn.q_proj.weight)  # fmt: skip
    assert model.get_input_embeddings().weight.shape[0] > n  # <image> token added, embeddings resized
    import numpy as np

    from tenken.vlm.backends.base import VLMRequest

    assert isinstance(vlm.generate([VLMRequest("hi", [np.zeros((40, 50, 3), np.uint8)])])[0], str)


def test_assemble_refuses_a_non_siglip_tower(tmp_path, tiny_llava_path):
    from tenken.core.errors import InputError

    with pytest.raises(InputError, match="SigLIP"):
        assemble(tiny_llava_path, tiny_llava_path, tmp_path / "x")
