"""Tiny random-weight VLM checkpoints built locally (no downloads), saved like a user's checkpoint.

Each builder writes a complete model directory (config, weights, tokenizer, processor, chat template) with
``save_pretrained`` so tests load it back through :func:`tenken.load_vlm` exactly as a real checkpoint.
The answers of these models are noise; they exist to exercise plumbing (prompts, batching, shapes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

_CORPUS = [
    "Locate every traffic cone in the image, output bbox coordinates in JSON format.",
    "画像の中のカラーコーンをすべて見つけて、JSON形式で座標を出力してください。",
    '[{"bbox_2d": [12, 34, 56, 78], "label": "traffic_cone"}]',
    "How many bottles are on the floor? 床にペットボトルは何本ありますか。",
    "Answer with one label from the list: plastic_bottle, empty_can, tool, glove, helmet.",
    "The worker is tightening bolts with a torque wrench. 作業員はボルトを締めています。",
    "0123456789 (x1,y1),(x2,y2) yes no unknown 人 工具 手袋 ヘルメット 鳥の巣 水漏れ",
]

QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
]  # fmt: skip

QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LLAVA_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}</s>"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT: {% endif %}"
)


def _tokenizer(specials: list[str], vocab_size: int = 400, **special_map: str):
    """A byte-level BPE tokenizer trained on a few sentences (incl. Japanese), with ``specials`` added."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from tokenizers import decoders as tk_decoders
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk_decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **special_map)


def build_qwen25_vl(out: Path, max_pixels: int = 28 * 28 * 16) -> Path:
    """A Qwen2.5-VL checkpoint: 2 text layers of width 32, a 2-block vision tower of width 32."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )

    from tenken.vlm.backends.hf import image_only_processor_class

    tokenizer = _tokenizer(QWEN_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = QWEN_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    image_processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=max_pixels)
    processor_cls = image_only_processor_class(Qwen2_5_VLProcessor)  # no video processor: no torchvision needed
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN_TEMPLATE)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build_qwen3_vl(out: Path, max_pixels: int = 32 * 32 * 16) -> Path:
    """A Qwen3-VL checkpoint: 2 text layers of width 32, a 2-block vision tower (16-px patches, factor 32)."""
    import torch
    from transformers import Qwen2VLImageProcessorPil, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    from tenken.vlm.backends.hf import image_only_processor_class

    tokenizer = _tokenizer(QWEN_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = QWEN_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True,
                                "rope_theta": 10000.0},
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
            "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 64,
            "deepstack_visual_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    image_processor = Qwen2VLImageProcessorPil(patch_size=16, min_pixels=32 * 32 * 4, max_pixels=max_pixels)
    processor_cls = image_only_processor_class(Qwen3VLProcessor)
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN_TEMPLATE)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


LLAVA_SPECIALS = ["<pad>", "<s>", "</s>", "<image>"]


def build_llava(out: Path, image_side: int = 32) -> Path:
    """A LLaVA checkpoint: SigLIP vision tower (2 layers, width 32, 8-px patches) + 2-layer Qwen2 text model."""
    import torch
    from transformers import (
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        SiglipImageProcessorPil,
    )

    tokenizer = _tokenizer(LLAVA_SPECIALS, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = LLAVA_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in LLAVA_SPECIALS}
    config = LlavaConfig(
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_side,
            "patch_size": 8,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 512,
            "bos_token_id": ids["<s>"],
            "eos_token_id": ids["</s>"],
            "pad_token_id": ids["<pad>"],
        },
        image_token_id=ids["<image>"],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["</s>"]
    model.generation_config.pad_token_id = ids["<pad>"]
    image_processor = SiglipImageProcessorPil(size={"height": image_side, "width": image_side})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="full",
        chat_template=LLAVA_TEMPLATE,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_llava_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LLaVA (SigLIP + Qwen2) checkpoint directory, built once per test session."""
    return build_llava(tmp_path_factory.mktemp("tiny_llava"))


@pytest.fixture(scope="session")
def tiny_llava(tiny_llava_path: Path):
    """The tiny LLaVA loaded through :func:`tenken.load_vlm` (greedy, 8 new tokens by default)."""
    from tenken.vlm.loader import load_vlm

    return load_vlm(str(tiny_llava_path), max_new_tokens=8)


@pytest.fixture(scope="session")
def tiny_qwen25_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2.5-VL checkpoint directory, built once per test session."""
    return build_qwen25_vl(tmp_path_factory.mktemp("tiny_qwen25"))


@pytest.fixture(scope="session")
def tiny_qwen3_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen3-VL checkpoint directory, built once per test session."""
    return build_qwen3_vl(tmp_path_factory.mktemp("tiny_qwen3"))
