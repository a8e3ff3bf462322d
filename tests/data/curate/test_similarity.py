"""Image–text similarity plumbing with a tiny random CLIP saved and loaded back through from_pretrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenken.core.errors import ModelLoadError
from tenken.data.curate.similarity import ImageTextScorer


def _images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (40 + 10 * k, 50, 3), dtype=np.uint8) for k in range(n)]


def test_scores_are_batched_cosines(tiny_clip_path: Path) -> None:
    scorer = ImageTextScorer(str(tiny_clip_path), device="cpu", batch_size=2)
    imgs, texts = _images(5), ["赤い車", "犬が走る", "a ship", "港の船", "木"]
    emb = scorer.embed_images(imgs)
    assert emb.shape == (5, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    m = scorer.matrix(imgs, texts)
    assert m.shape == (5, 5) and (np.abs(m) <= 1 + 1e-5).all()
    assert np.allclose(scorer.pair_scores(imgs, texts), np.diag(m), atol=1e-5)
    one_batch = ImageTextScorer(str(tiny_clip_path), device="cpu", batch_size=8).matrix(imgs, texts)
    assert np.allclose(one_batch, m, atol=1e-5)  # batching does not change the scores


def test_missing_checkpoint_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load"):
        ImageTextScorer(str(tmp_path / "nope"))
