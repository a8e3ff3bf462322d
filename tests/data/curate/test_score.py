"""Stage 1: one scored row per sample, in order, across model batches; the first refusal stops the checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenken.data.curate.options import CurateOptions
from tenken.data.curate.score import Models, score_samples
from tenken.data.curate.shards import ImageItem, Sample
from tests.data.curate.corpus import jpeg, noise


class _CountingNsfw:
    def __init__(self) -> None:
        self.seen = 0

    def scores(self, images: list[np.ndarray]) -> list[float]:
        self.seen += len(images)
        return [0.9 if img.shape[1] == 333 else 0.0 for img in images]  # the 333-px-wide image is "unsafe"


def test_rows_in_order_and_only_survivors_reach_the_models(tmp_path: Path) -> None:
    samples = [Sample(f"s{k}", f"港の写真その{k}です", [ImageItem("a.jpg", jpeg(noise(k)))]) for k in range(5)]
    samples[1].images[0].data = b"broken"
    samples[3].text = "English only"
    samples[4].images = [ImageItem("b.jpg", jpeg(noise(9, (333, 250))))]
    opts = CurateOptions(batch_size=2)
    models = Models(opts)
    clf = _CountingNsfw()
    models.__dict__["nsfw"] = clf  # cached_property slot: a stand-in classifier
    rows = list(score_samples(iter(samples), opts, models))
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4] and [r["id"] for r in rows] == [s.id for s in samples]
    assert [(r["drop"] or {}).get("filter") for r in rows] == [None, "decodable", None, "japanese_script", "nsfw"]
    assert clf.seen == 3  # the broken image and the English pair never reach the classifier
    assert rows[4]["drop"]["score"] == 0.9 and rows[4]["drop"]["threshold"] == 0.5
    assert len(rows[0]["images"][0]["phash"]) == 16 and rows[0]["images"][0]["nsfw"] == 0.0


def test_an_nsfw_image_drops_its_document_unless_told_otherwise() -> None:
    images = [ImageItem("a.jpg", jpeg(noise(1))), ImageItem("b.jpg", jpeg(noise(2, (333, 250))))]
    doc = Sample("d", "港の様子です。" * 3, images)
    for whole in (True, False):
        opts = CurateOptions(mode="interleaved", nsfw_drops_document=whole)
        models = Models(opts)
        models.__dict__["nsfw"] = _CountingNsfw()
        (row,) = score_samples(iter([doc]), opts, models)
        assert row["images"][1]["drop"]["filter"] == "nsfw" and row["images"][0]["drop"] is None
        assert (row["drop"] is not None) is whole
