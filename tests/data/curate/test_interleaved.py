"""Interleaved documents: sentence splitting and merging, assignment vs brute force, document rules, the chain."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tenken.core.artifacts import read_jsonl
from tenken.data.curate.interleaved import (
    assign_images,
    bunkai_available,
    compose,
    document_drop,
    merge_symbol_only,
    split_sentences,
    text_tokens,
)
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.pipeline import curate
from tenken.data.curate.shards import ImageItem, Sample, find_shards, read_shard
from tests.data.curate.corpus import jpeg, photo, write_corpus


def test_bunkai_is_used_when_installed() -> None:
    if importlib.util.find_spec("bunkai") is None:  # (importing it plainly fails under transformers 5)
        pytest.skip("bunkai not installed")
    assert bunkai_available()
    assert split_sentences("「こんにちは」と言った。次の文です。") == ["「こんにちは」と言った。", "次の文です。"]


def test_split_and_merge() -> None:
    sentences = merge_symbol_only(split_sentences("★★★今日は晴れです。明日は？ 雨かな！\n→→\n新しい段落"))
    assert sentences[0].startswith("★★★今日は晴れです")  # a leading symbol-only piece joins the next sentence
    assert "明日は？" in sentences[1]
    assert all(any(c.isalnum() for c in s) for s in sentences)
    assert merge_symbol_only(["猫です。", "★★", "犬です。", "!!"]) == ["猫です。★★", "犬です。!!"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(lambda i: st.integers(i, 6).flatmap(
    lambda s: arrays(np.float64, (i, s), elements=st.floats(-1, 1, allow_nan=False)))))  # fmt: skip
def test_assignment_is_the_brute_force_optimum(sim: np.ndarray) -> None:
    n_img, n_sent = sim.shape
    got = assign_images(sim)
    assert len(set(got.tolist())) == n_img and (got >= 0).all()  # one distinct sentence per image
    best = max(sum(sim[i, p[i]] for i in range(n_img)) for p in itertools.permutations(range(n_sent), n_img))
    assert np.isclose(sim[np.arange(n_img), got].sum(), best)


def test_more_images_than_sentences_leaves_some_unassigned() -> None:
    got = assign_images(np.array([[0.9], [0.1], [0.5]]))
    assert got.tolist() == [0, -1, -1]


def test_compose_places_marks_before_sentences() -> None:
    text, order = compose(["一。", "二。", "三。"], [2, -1, 0])
    assert text == "<image>一。二。<image>三。" and order == [2, 0]


def test_document_rules() -> None:
    o = CurateOptions()
    assert document_drop(3, 20, [0.3, 0.25, 0.4], 4096 - 3 * 729, o) is None
    assert document_drop(1, 20, [0.3], 100, o).filter == "doc_images"
    assert document_drop(6, 20, None, 100, o).threshold == 5
    assert document_drop(3, 9, None, 100, o).filter == "doc_sentences"
    low = document_drop(3, 20, [0.3, 0.19, 0.4], 100, o)
    assert low.filter == "doc_similarity" and low.score == 0.19 and low.threshold == 0.2
    long = document_drop(3, 20, None, 4097 - 3 * 729, o)
    assert long.filter == "doc_tokens" and long.score == 4097
    assert text_tokens("あいうえお", o) == 5


SENTENCES = [f"これは{k}番目の文で、港の様子を説明しています。" for k in range(12)]


def _docs() -> list[Sample]:
    dog, truck, shop = (jpeg(photo(n)) for n in ("sam_dog.jpg", "sam_truck.jpg", "sam_groceries.jpg"))
    return [
        Sample("good", "".join(SENTENCES), [
            ImageItem("0.jpg", dog), ImageItem("1.jpg", truck),
            ImageItem("2.jpg", jpeg(photo("sam_dog.jpg", (200, 150)), 50)),
            ImageItem("3.jpg", shop), ImageItem("4.jpg", jpeg(photo("sam_dogs.jpg", (100, 80)))),
        ]),
        Sample("one_image", "".join(SENTENCES), [ImageItem("0.jpg", dog)]),
        Sample("short", "".join(SENTENCES[:4]), [ImageItem("0.jpg", dog), ImageItem("1.jpg", truck)]),
        Sample("english", "This document is in English. " * 12, [ImageItem("0.jpg", dog), ImageItem("1.jpg", truck)]),
    ]  # fmt: skip


def test_document_chain(tmp_path: Path, tiny_clip_path: Path) -> None:
    write_corpus(tmp_path / "in", _docs(), "wds", "interleaved")
    opts = CurateOptions(mode="interleaved", nsfw="none", similarity_model=str(tiny_clip_path), device="cpu",
                         min_pair_similarity=-1.0)  # fmt: skip  # a random model's cosines are anywhere in [-1, 1]
    res = curate([tmp_path / "in"], tmp_path / "out", opts)
    rows = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    whole = {r["id"]: r["filter"] for r in rows if r["id"] != "good"}
    assert whole == {"one_image": "doc_images", "short": "doc_sentences", "english": "japanese_script"}
    in_good = {r["image"]: r["filter"] for r in rows if r["id"] == "good"}
    assert in_good == {2: "phash_in_doc", 4: "min_side"}  # image 2 repeats image 0 at a lower resolution
    (kept,) = read_shard(find_shards([tmp_path / "out" / "shards"])[0])
    assert kept.id == "good" and len(kept.images) == 3 and kept.text.count("<image>") == 3
    assert kept.text.replace("<image>", "") == "".join(SENTENCES)
    assert res.images_kept == 3
    strict = CurateOptions(**{**opts.to_dict(), "min_pair_similarity": 0.999})
    curate([tmp_path / "in"], tmp_path / "out2", strict)
    assert {r["id"]: r["filter"] for r in read_jsonl(tmp_path / "out2" / "dropped.jsonl")}["good"] == "doc_similarity"
