"""What a stage trains: freeze everything but the projector (stage 1.0), wrap in LoRA (stage 1.5 / LoRA SFT),
or train every weight (tiny models from scratch). Also loading a checkpoint for training and exporting the
result (LoRA merged) as a normal checkpoint that :func:`tenken.load_vlm` and vLLM load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tenken.core.artifacts import write_json
from tenken.core.errors import InputError
from tenken.train.recipe import Recipe
from tenken.vlm.backends.hf import TransformersBackend
from tenken.vlm.families import Family, get_family
from tenken.vlm.loader import FAMILY_FILE, saved_family

SIGLIP_HEAD = re.compile(r"vision_(tower|model)\.(vision_model\.)?head\.")
"""SigLIP's attention-pooling head: unused by a LLaVA-style model (it reads patch features), never trained."""


def load_for_training(
    path: str | os.PathLike, trust_remote_code: bool = False, dtype: str | None = None
) -> tuple[Any, Any]:
    """``(model, processor)`` of a checkpoint, loaded by the same code as inference (float32 on CPU, bfloat16
    on CUDA), in train mode."""
    backend = TransformersBackend(str(path), dtype=dtype, trust_remote_code=trust_remote_code)
    backend.model.train()
    return backend.model, backend.processor


def apply_stage(model: Any, recipe: Recipe) -> Any:
    """Set what trains for ``recipe.stage``; returns the model to train (a peft model for LoRA stages).

    Raises:
        InputError: a regex of ``trainable`` or ``lora.target_modules`` matches nothing in this model.
    """
    if recipe.stage == "full":
        for name, p in model.named_parameters():
            p.requires_grad_(not SIGLIP_HEAD.search(name))
        return model
    if recipe.stage == "projector":
        patterns = [re.compile(t) for t in recipe.trainable]
        n = 0
        for name, p in model.named_parameters():
            train = any(r.search(name) for r in patterns) and not SIGLIP_HEAD.search(name)
            p.requires_grad_(train)
            n += train
        if not n:
            raise InputError(f"recipe {recipe.name!r}: no parameter matches trainable {recipe.trainable}")
        return model
    from peft import LoraConfig, get_peft_model

    spec = recipe.lora
    assert spec is not None  # Recipe.check
    target = re.compile(spec.target_modules)
    hits = [n for n, _ in model.named_modules() if target.fullmatch(n)]
    if not hits:
        raise InputError(f"recipe {recipe.name!r}: lora.target_modules matches no module of this model")
    if any(SIGLIP_HEAD.search(n + ".") for n in hits):
        raise InputError(f"recipe {recipe.name!r}: lora.target_modules reaches SigLIP's unused pooling head")
    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    config = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules,
        modules_to_save=[m for m in spec.modules_to_save if m in present] or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def trainable_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def export_checkpoint(model: Any, processor: Any, out: str | os.PathLike, family: Family | None = None) -> Path:
    """Save ``model`` (LoRA merged into the base weights when it is a peft model) and its processor to ``out``:
    a plain transformers checkpoint. The model in memory is left unmerged. ``family`` (the one the targets
    were written for) is recorded in :data:`tenken.vlm.loader.FAMILY_FILE`, so :func:`tenken.load_vlm`
    reads answers in the frame the model was trained to write."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):
        import copy

        merged = copy.deepcopy(model).merge_and_unload()
    else:
        merged = model
    merged.save_pretrained(out)
    processor.save_pretrained(out)
    if family is not None:
        write_json(out / FAMILY_FILE, {"family": family.name, "box_format": family.box_format})
    return out


def merge_adapter(base: str | os.PathLike, adapter: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Merge a saved LoRA adapter into its base checkpoint and save the result (with the base's processor).

    Raises:
        InputError: ``adapter`` is not a peft adapter folder.
    """
    if not (Path(adapter) / "adapter_config.json").is_file():
        raise InputError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json)")
    from peft import PeftModel

    model, processor = load_for_training(base)
    peft_model = PeftModel.from_pretrained(model, str(adapter))
    saved = saved_family(base)
    family = get_family(saved["family"], box_format=saved.get("box_format")) if saved else None
    return export_checkpoint(peft_model, processor, out, family)
