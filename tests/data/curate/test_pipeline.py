"""The curation chain end to end on constructed corpora with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenken.core.artifacts import read_jsonl
from tenken.core.errors import InputError, ModelLoadError
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.pipeline import curate
from tenken.data.curate.shards import ImageItem, Sample, find_shards, read_shard
from tests.data.curate.corpus import jpeg, noise, pairs_corpus, write_corpus

PAIRS = CurateOptions(nsfw="none", frequent_max=3, text_max_repeats=2)


def _dropped(out: Path) -> dict[str, str]:
    return {r["id"]: r["filter"] for r in read_jsonl(out / "dropped.jsonl")}


@pytest.mark.parametrize("kind", ["wds", "parquet", "jsonl"])
def test_pairs_chain_drops_what_it_should(tmp_path: Path, kind: str) -> None:
    samples, expected = pairs_corpus()
    write_corpus(tmp_path / "in", samples, kind, "pairs", n_shards=2)  # type: ignore[arg-type]
    res = curate([tmp_path / "in"], tmp_path / "out", PAIRS)
    assert _dropped(tmp_path / "out") == {i: f for i, f in expected.items() if f is not None}
    kept = {s.id for sh in find_shards([tmp_path / "out" / "shards"]) for s in read_shard(sh)}
    assert kept == {i for i, f in expected.items() if f is None}
    assert res.samples == len(samples) and res.kept == len(kept)
    funnel = {r["filter"]: r for r in res.funnel}
    assert funnel["phash_frequent"]["dropped"] == 4 and funnel["text_repeats"]["dropped"] == 3
    assert res.funnel[-1]["out"] == len(kept)


def test_resume_does_not_redo_finished_shards_and_shards_split_the_work(tmp_path: Path) -> None:
    samples, expected = pairs_corpus()
    write_corpus(tmp_path / "in", samples, "jsonl", "pairs", n_shards=3)
    started: list[int] = []
    for i in range(2):  # two "machines" score their halves
        done = curate([tmp_path / "in"], tmp_path / "out", PAIRS, shard=(i, 2), on_start=started.append)
        assert not done.finished
    assert started == [2, 1]
    started.clear()
    res = curate([tmp_path / "in"], tmp_path / "out", PAIRS, resume=True, on_start=started.append)
    assert started[0] == 0  # nothing left to score
    assert _dropped(tmp_path / "out") == {i: f for i, f in expected.items() if f is not None}
    started.clear()
    again = curate([tmp_path / "in"], tmp_path / "out", PAIRS, resume=True, on_start=started.append)
    assert started == [0, 0] and again.kept == res.kept


def test_similarity_drops_the_lowest_fraction(tmp_path: Path, tiny_clip_path: Path) -> None:
    samples = [Sample(f"s{k}", f"説明文その{k}番目です", [ImageItem("a.jpg", jpeg(noise(k)))]) for k in range(10)]
    write_corpus(tmp_path / "in", samples, "parquet", "pairs")
    opts = CurateOptions(nsfw="none", similarity_model=str(tiny_clip_path), device="cpu", batch_size=4)
    res = curate([tmp_path / "in"], tmp_path / "out", opts)
    rows = [r for r in read_jsonl(tmp_path / "out" / "dropped.jsonl") if r["filter"] == "similarity"]
    assert len(rows) == 3 and res.kept == 7
    assert all(r["score"] < r["threshold"] for r in rows)
    kept = list(read_shard(find_shards([tmp_path / "out" / "shards"])[0]))
    assert len(kept) == 7


def test_bad_rows_and_images_are_recorded_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(
        '{"id": "x", "text": "犬が走っている写真", "image": "missing.jpg"}\n{broken\n', encoding="utf-8"
    )
    res = curate([tmp_path / "in"], tmp_path / "out", PAIRS)
    assert res.samples == 2 and res.kept == 0
    assert sorted(_dropped(tmp_path / "out").values()) == ["read", "read"]


def test_bad_options_and_models_fail_before_any_work(tmp_path: Path) -> None:
    samples, _ = pairs_corpus()
    write_corpus(tmp_path / "in", samples[:2], "jsonl", "pairs")
    with pytest.raises(InputError, match="similarity_drop_fraction"):
        curate([tmp_path / "in"], tmp_path / "out", CurateOptions(similarity_drop_fraction=1.5))
    with pytest.raises(InputError, match="lang_id"):
        curate([tmp_path / "in"], tmp_path / "out", CurateOptions(lang_id="langid"))
    with pytest.raises(ModelLoadError, match="nope"):
        curate([tmp_path / "in"], tmp_path / "out", CurateOptions(nsfw="none", similarity_model=str(tmp_path / "nope")))
    assert not (tmp_path / "out" / "progress" / "score.jsonl").exists() or not read_jsonl(
        tmp_path / "out" / "progress" / "score.jsonl"
    )
