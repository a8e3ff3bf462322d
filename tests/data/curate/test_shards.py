"""Shard readers and writers: WebDataset tar, Parquet, JSONL + images; bad rows become recorded samples."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenken.core.errors import InputError
from tenken.data.curate.shards import ImageItem, Sample, ShardWriter, find_shards, read_shard
from tenken.data.format import read_samples


def _samples(mode: str) -> list[Sample]:
    n_img = 1 if mode == "pairs" else 3
    return [
        Sample(f"s{k}", f"テキスト{k}", [ImageItem(f"{i}.jpg", bytes([k, i]) * 10, f"https://e.x/{k}/{i}.jpg")
                                         for i in range(n_img)], {"lang": "ja"})
        for k in range(3)
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["wds", "parquet", "jsonl"])
@pytest.mark.parametrize("mode", ["pairs", "interleaved"])
def test_written_shards_read_back(tmp_path: Path, kind: str, mode: str) -> None:
    suffix = {"wds": ".tar", "parquet": ".parquet", "jsonl": ".jsonl"}[kind]
    path = tmp_path / f"part-0{suffix}"
    with ShardWriter(path, kind, mode) as w:  # type: ignore[arg-type]
        for s in _samples(mode):
            marks = "" if mode == "pairs" else "<image>" * len(s.images)  # a curated document's marks
            w.add(s, marks + s.text, {"filters": [{"name": "nsfw", "keep": True, "score": 0.1}]})
    (shard,) = find_shards([tmp_path])
    back = list(read_shard(shard))
    assert [s.id for s in back] == ["s0", "s1", "s2"]
    assert [s.text.replace("<image>", "") for s in back] == ["テキスト0", "テキスト1", "テキスト2"]
    assert all(s.error is None for s in back)
    for s, orig in zip(back, _samples(mode), strict=True):
        assert [im.data for im in s.images] == [im.data for im in orig.images]
    if kind != "jsonl":
        assert back[1].images[-1].url == _samples(mode)[1].images[-1].url
    else:  # curated JSONL is tenken's training-data format (marks and images agree, boxes none)
        samples = read_samples(path)
        assert len(samples) == 3 and samples[0].task == ("caption" if mode == "pairs" else "interleaved")
        assert samples[0].provenance.filters[0].score == 0.1


def test_webdataset_grouping_and_bad_members(tmp_path: Path) -> None:
    path = tmp_path / "c.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in [("a.txt", "猫".encode()), ("a.jpg", b"JPG"), ("a.json", b'{"url": "u"}'),
                           ("b.txt", b"\xff\xfe"), ("b.png", b"PNG"),
                           ("c.txt", "犬".encode()), ("c.json", b"{broken")]:  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    a, b, c = read_shard(find_shards([path])[0])
    assert a.text == "猫" and a.images[0].data == b"JPG" and a.images[0].url == "u" and a.error is None
    assert b.error is not None and "UTF-8" in b.error
    assert c.error is not None and "JSON" in c.error


def test_truncated_tar_keeps_the_whole_samples(tmp_path: Path) -> None:
    path = tmp_path / "t.tar"
    with ShardWriter(path, "wds", "pairs") as w:
        for k in range(5):
            w.add(Sample(f"s{k}", "猫", [ImageItem("a.jpg", bytes(3000))]), "猫です", {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    samples = list(read_shard(find_shards([path])[0]))
    assert [s.error is None for s in samples] == [True, True, False]
    assert samples[-1].error is not None and "ends early" in samples[-1].error
    assert all(len(s.images[0].data or b"") == 3000 for s in samples[:2])


def test_jsonl_missing_image_and_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    lines = [json.dumps({"id": "a", "text": "犬", "image": "nope.jpg"}), "{oops", json.dumps({"id": "c"})]
    path.write_text("\n".join(lines) + "\n")
    samples = list(read_shard(find_shards([path])[0]))
    by_id = {s.id: s for s in samples}
    assert by_id["a"].images[0].error is not None and "nope.jpg" in by_id["a"].images[0].error
    assert by_id["x.jsonl:2"].error is not None and "x.jsonl:2" in by_id["x.jsonl:2"].error
    assert by_id["c"].error is not None and "text" in by_id["c"].error


def test_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        find_shards([tmp_path / "missing.tar"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a shard"):
        find_shards([tmp_path / "notes.txt"])
    with pytest.raises(InputError, match=r"no \.tar"):
        find_shards([tmp_path])
    (tmp_path / "bad.parquet").write_bytes(b"nope")
    with pytest.raises(InputError, match="not a readable Parquet"):
        list(read_shard(find_shards([tmp_path / "bad.parquet"])[0]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",))), min_size=1, max_size=4),
       kind=st.sampled_from(["wds", "parquet", "jsonl"]))  # fmt: skip
def test_any_text_round_trips(tmp_path: Path, texts: list[str], kind: str) -> None:
    folder = tmp_path / f"rt-{kind}-{abs(hash(tuple(texts)))}"
    suffix = {"wds": ".tar", "parquet": ".parquet", "jsonl": ".jsonl"}[kind]
    path = folder / f"p{suffix}"
    with ShardWriter(path, kind, "pairs") as w:  # type: ignore[arg-type]
        for k, t in enumerate(texts):
            w.add(Sample(f"id{k}", t, [ImageItem("a.png", b"x")]), t, {})
    back = list(read_shard(find_shards([path])[0]))
    assert [s.text for s in back] == texts and all(s.error is None for s in back)
