"""Assemble a LLaVA-style VLM from separately pretrained parts (as PLaMo 2.1-VL does): a SigLIP / SigLIP 2
fixed-resolution vision tower, a new 2-layer MLP projector (GELU), and any causal LLM.

The result is a plain ``LlavaForConditionalGeneration`` checkpoint (config, weights, tokenizer, processor,
chat template) that :func:`tenken.load_vlm`, ``transformers`` and vLLM load. Traps handled here:

- SigLIP has no CLS token: ``vision_feature_select_strategy="full"`` keeps every patch (``"default"`` would
  drop the first patch as if it were a CLS token);
- the image token ``<image>`` is added to the tokenizer and the LLM's embeddings are resized;
- SigLIP's attention-pooling head is copied (a faithful tower) but unused; :mod:`tenken.train.stages` never
  trains it or puts LoRA on it.

The projector starts random: train it first (recipe ``stage1.0-projector``), then ``stage1.5-lora``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tenken.core.errors import InputError, ModelLoadError

IMAGE_TOKEN = "<image>"

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""Chat template used when the LLM's own template cannot place images (ChatML; ``<image>`` per image)."""


def _vision_tower(path: str) -> tuple[Any, Any]:
    """``(SiglipVisionModel, image processor)`` from a SigLIP vision checkpoint or a full SigLIP (text+vision)."""
    from transformers import AutoConfig, AutoImageProcessor, SiglipVisionModel

    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot read the vision tower's config ({exc})") from exc
    if config.model_type not in ("siglip", "siglip_vision_model"):
        raise InputError(
            f"{path}: vision tower must be a fixed-resolution SigLIP / SigLIP 2 checkpoint "
            f"(model_type siglip or siglip_vision_model), got {config.model_type!r}"
        )
    tower = SiglipVisionModel.from_pretrained(path)
    try:
        image_processor = AutoImageProcessor.from_pretrained(path)
    except OSError:
        from transformers import SiglipImageProcessor

        side = tower.config.image_size
        image_processor = SiglipImageProcessor(size={"height": side, "width": side})
    return tower, image_processor


def assemble(
    vision: str | os.PathLike,
    llm: str | os.PathLike,
    out: str | os.PathLike,
    chat_template: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Build and save a LLaVA-style model from a SigLIP vision tower and a causal LLM.

    Args:
        vision: SigLIP / SigLIP 2 (fixed resolution) checkpoint, e.g. ``google/siglip2-so400m-patch14-384``.
        llm: causal LM checkpoint with its tokenizer, e.g. ``Qwen/Qwen2.5-0.5B-Instruct``.
        out: output folder.
        chat_template: a Jinja chat template (text) that renders ``{"type": "image"}`` items as ``<image>``;
            default: the LLM's template when it mentions images, else :data:`CHATML_TEMPLATE`.
        seed: seed of the projector's random initialisation.

    Returns:
        ``{"out", "image_tokens", "parameters": {"vision", "projector", "llm"}, "image_token_id"}``.
    """
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tower, image_processor = _vision_tower(str(vision))
    try:
        lm = AutoModelForCausalLM.from_pretrained(str(llm))
        tokenizer = AutoTokenizer.from_pretrained(str(llm))
    except Exception as exc:
        raise ModelLoadError(f"{llm}: cannot load the LLM or its tokenizer ({exc})") from exc
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    template = chat_template or tokenizer.chat_template
    if not template or "image" not in template:
        template = CHATML_TEMPLATE
        missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lm.resize_token_embeddings(len(tokenizer))
    vcfg = tower.config
    config = LlavaConfig(
        vision_config=vcfg.to_dict() | {"model_type": "siglip_vision_model"},
        text_config=lm.config.to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
        image_seq_length=(vcfg.image_size // vcfg.patch_size) ** 2,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(tower.state_dict())
    model.model.language_model.load_state_dict(lm.base_model.state_dict())
    model.lm_head.load_state_dict(lm.get_output_embeddings().state_dict())
    model.generation_config.eos_token_id = (
        tokenizer.convert_tokens_to_ids("<|im_end|>") if template == CHATML_TEMPLATE else tokenizer.eos_token_id
    )
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=vcfg.patch_size,
        vision_feature_select_strategy="full",
        chat_template=template,
    )
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)

    def count(m: Any) -> int:
        return sum(p.numel() for p in m.parameters())

    return {
        "out": str(out),
        "image_tokens": config.image_seq_length,
        "image_token_id": config.image_token_id,
        "parameters": {
            "vision": count(model.model.vision_tower),
            "projector": count(model.model.multi_modal_projector),
            "llm": count(model.model.language_model) + count(model.lm_head),
        },
    }
