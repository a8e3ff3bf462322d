"""Recipes load and validate; stages train what they say (projector only; LoRA off SigLIP's pooling head)."""

from __future__ import annotations

import pytest

from tenken.core.errors import InputError
from tenken.train.recipe import load_recipe, recipe_names
from tenken.train.stages import SIGLIP_HEAD, apply_stage, load_for_training, trainable_parameters


def test_shipped_recipes_load():
    names = recipe_names()
    assert {"stage1.0-projector", "stage1.5-lora", "lora-sft", "full", "grpo-lora", "grpo-full"} <= set(names)
    for name in names:
        assert load_recipe(name).name == name
    seed003 = load_recipe("lora-sft")
    assert seed003.lora.r == 16 and seed003.training["learning_rate"] == 2e-5
    assert seed003.training["lr_scheduler_type"] == "cosine" and seed003.training["warmup_steps"] == 0.03


def test_overrides_and_errors(tmp_path):
    r = load_recipe("full", ["training.learning_rate=1e-3", "max_minutes=2", "early_stopping.patience=9"])
    assert r.training["learning_rate"] == 1e-3 and r.max_minutes == 2 and r.early_stopping.patience == 9
    with pytest.raises(InputError, match="unknown recipe"):
        load_recipe("nope")
    with pytest.raises(InputError, match="KEY=VALUE"):
        load_recipe("full", ["learning_rate"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstage: lora\n")
    with pytest.raises(InputError, match="lora"):
        load_recipe(bad)
    bad.write_text("name: x\nstage: full\nearly_stopping: {patience: 0}\n")
    with pytest.raises(InputError, match=r"bad\.yaml: early_stopping\.patience"):
        load_recipe(bad)


def test_projector_stage_trains_only_the_projector(tiny_llava_path):
    model, _ = load_for_training(tiny_llava_path)
    model = apply_stage(model, load_recipe("stage1.0-projector"))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("multi_modal_projector" in n for n in names)


def test_lora_stages_never_touch_the_siglip_head(tiny_llava_path):
    model, _ = load_for_training(tiny_llava_path)
    assert any(SIGLIP_HEAD.search(n) for n, _ in model.named_parameters())  # the head exists in the tower
    peft_model = apply_stage(model, load_recipe("stage1.5-lora"))
    lora = [n for n, _ in peft_model.named_parameters() if "lora_" in n]
    assert any("vision_tower" in n for n in lora) and any("language_model" in n for n in lora)
    assert not any(SIGLIP_HEAD.search(n) for n in lora)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("multi_modal_projector" in n for n in trainable)  # modules_to_save
    n_train, n_total = trainable_parameters(peft_model)
    assert 0 < n_train < n_total


def test_a_lora_regex_that_matches_nothing_is_an_input_error(tiny_llava_path):
    model, _ = load_for_training(tiny_llava_path)
    with pytest.raises(InputError, match="matches no module"):
        apply_stage(model, load_recipe("lora-sft", ["lora.target_modules=.*no_such_module$"]))
    with pytest.raises(InputError, match="pooling head"):
        apply_stage(model, load_recipe("lora-sft", [r"lora.target_modules=.*vision_tower\.head\..*(out_proj|fc1)$"]))
