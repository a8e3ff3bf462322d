"""A tiny random-weight CLIP checkpoint built from a config and saved like a user's (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vlm.tiny_models import _tokenizer


def build_tiny_clip(out: Path) -> Path:
    """CLIP with 1-layer width-32 towers, 32 px images, a byte-level BPE tokenizer; saved to ``out``."""
    import torch
    from tokenizers import processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tok = _tokenizer(["<|startoftext|>", "<|endoftext|>"], vocab_size=300, bos_token="<|startoftext|>",
                     eos_token="<|endoftext|>", pad_token="<|endoftext|>")  # fmt: skip
    # like CLIP's own tokenizer: every text is wrapped in start/end tokens (the text tower pools at the end token)
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", tok.bos_token_id), ("<|endoftext|>", tok.eos_token_id)],
    )
    text = {"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 64, "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}  # fmt: skip
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}  # fmt: skip
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model.save_pretrained(out)
    CLIPProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP checkpoint folder, built once per session."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))
