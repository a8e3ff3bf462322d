"""Batch runs: manifests (bad lines, duplicates), resume after a kill, shards, folders, index.html."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.inspect.batch import (
    BatchItem,
    image_name,
    inspect_to_folder,
    pair_folders,
    read_manifest,
    run_batch,
)
from tenken.inspect.pipeline import Inspector


class OneBox:
    name = "one"

    def detect(self, pair):
        size = (pair.target.shape[1], pair.target.shape[0])
        return Detections([[1, 1, 9, 9]], [0.7], ["change"], [self.name], size)


def _inspector() -> Inspector:
    # registered=True: no feature matching, so batch mechanics are tested in milliseconds per item
    return Inspector(detector=OneBox(), align_options={"registered": True})


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    return folder


def _manifest(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_manifest_problems_are_items_with_line_numbers(images: Path):
    m = _manifest(
        images / "m.jsonl",
        [
            '{"id": "x", "target": "a.png", "reference": "b.png"}',
            "{broken json",
            "",
            '{"id": "y", "target": "a.png"}',
            '{"target": "a.png", "reference": "b.png"}',
            '{"id": "x", "target": "c.png", "reference": ["b.png"]}',
            "[1, 2]",
            '{"id": 7, "target": "c.png", "references": ["a.png", "b.png"]}',
        ],
    )
    items = read_manifest(m)
    assert [i.id for i in items] == ["x", "line-2", "y", "line-5", "x#line-6", "line-7", "7"]
    assert items[0].error is None and items[0].target == images / "a.png" and items[0].references == [images / "b.png"]
    assert "m.jsonl:2: malformed JSON" in items[1].error
    assert "m.jsonl:4" in items[2].error and "missing 'reference'" in items[2].error
    assert "missing 'id'" in items[3].error
    assert "duplicate id 'x' (first on line 1)" in items[4].error
    assert "expected a JSON object" in items[5].error
    assert items[6].error is None and len(items[6].references) == 2


def test_missing_manifest_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40), max_size=8))
def test_any_manifest_text_gives_one_item_per_nonblank_line_and_never_raises(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("m") / "m.jsonl"
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    path.write_text("\n".join(lines), encoding="utf-8")
    text_lines = path.read_text(encoding="utf-8").split("\n")  # JSON Lines end at "\n" only (not U+2028 etc.)
    items = read_manifest(path)
    assert len(items) == sum(1 for ln in text_lines if ln.strip())
    assert len({i.id for i in items}) == len(items)


def test_batch_goes_on_past_bad_items_and_writes_index(images: Path, tmp_path: Path):
    m = _manifest(
        images / "m.jsonl",
        [
            '{"id": "ok1", "target": "a.png", "reference": "b.png"}',
            '{"id": "missing", "target": "zzz.png", "reference": "b.png"}',
            "not json",
            '{"id": "ok1", "target": "c.png", "reference": "b.png"}',
            '{"id": "ok2", "target": "c.png", "reference": "a.png"}',
        ],
    )
    out = tmp_path / "out"
    summary = run_batch(_inspector(), read_manifest(m), out)
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["ok1", "missing", "line-3", "ok1#line-4", "ok2"]
    assert (summary.done, summary.failed) == (2, 3)
    assert "zzz.png: file not found" in rows[1]["error"] and rows[1]["line"] == 2
    assert rows[0]["schema"] == "tenken.report/1" and len(rows[0]["detections"]) == 1
    assert (out / "images" / "ok1.jpg").is_file() and (out / "images" / "ok2.jpg").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "5 item(s)" in index and "3 error(s)" in index and "zzz.png" in index and "images/ok2.jpg" in index


def test_resume_drops_a_partial_line_and_skips_done_ids(images: Path, tmp_path: Path):
    items = [BatchItem(n, images / f"{n}.png", [images / "b.png"]) for n in ("a", "c")]
    out = tmp_path / "out"
    run_batch(_inspector(), items[:1], out)
    with (out / "results.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"schema": "tenken.report/1", "id": "c", "targ')  # the run was killed mid-line
    summary = run_batch(_inspector(), items, out, resume=True)
    assert (summary.skipped, summary.done) == (1, 1)
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["a", "c"]
    again = run_batch(_inspector(), items, out, resume=True)
    assert (again.skipped, again.done) == (2, 0) and len(_rows(out)) == 2
    fresh = run_batch(_inspector(), items[:1], out)  # without --resume a run starts afresh
    assert [r["id"] for r in _rows(out)] == ["a"]
    # ... and the finished results of the earlier run are kept aside, not deleted (a forgotten --resume)
    assert fresh.previous == out / "results.jsonl.bak"
    assert [json.loads(x)["id"] for x in fresh.previous.read_text(encoding="utf-8").splitlines()] == ["a", "c"]


def test_resume_retries_failed_items(images: Path, tmp_path: Path):
    # one policy with tenken eval run: an error line is retried on --resume (the image may have arrived since)
    late = tmp_path / "late.png"
    items = [BatchItem("late", late, [images / "b.png"]), BatchItem("a", images / "a.png", [images / "b.png"])]
    out = tmp_path / "out"
    first = run_batch(_inspector(), items, out)
    assert (first.done, first.failed) == (1, 1) and "late.png" in _rows(out)[0]["error"]
    late.write_bytes((images / "c.png").read_bytes())
    again = run_batch(_inspector(), items, out, resume=True)
    assert (again.skipped, again.retried, again.done, again.failed) == (1, 1, 1, 0)
    assert sorted(r["id"] for r in _rows(out)) == ["a", "late"] and all("error" not in r for r in _rows(out))


def test_shards_split_the_items_without_overlap(images: Path, tmp_path: Path):
    items = [BatchItem(f"i{k}", images / "a.png", [images / "b.png"]) for k in range(5)]
    ids = []
    for i in range(2):
        run_batch(_inspector(), items, tmp_path / f"s{i}", shard=(i, 2))
        ids.append([r["id"] for r in _rows(tmp_path / f"s{i}")])
    assert ids == [["i0", "i2", "i4"], ["i1", "i3"]]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_dir_fails_before_work(images: Path, tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(InputError, match="not writable"):
        run_batch(_inspector(), [BatchItem("a", images / "a.png", [images / "b.png"])], locked / "out")


def test_output_path_that_is_a_file_is_an_error_before_work(images: Path, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="not writable"):
        run_batch(_inspector(), [BatchItem("a", images / "a.png", [images / "b.png"])], blocker / "out")


def test_folders_pair_by_file_name_without_telemetry(images: Path, tmp_path: Path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "A.PNG").write_bytes((images / "b.png").read_bytes())
    (refs / "c.png").write_bytes((images / "b.png").read_bytes())
    items = {i.id: i for i in pair_folders(images, refs)}
    assert items["a"].references == [refs / "A.PNG"] and items["c"].references == [refs / "c.png"]
    assert items["b"].error is not None and "no reference named b" in items["b"].error


def test_empty_or_missing_folders_are_input_errors(images: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match="references folder holds no images"):
        pair_folders(images, empty)
    with pytest.raises(InputError, match="targets folder not found"):
        pair_folders(tmp_path / "nope", images)


def _gps_jpeg(path: Path, north_m: float) -> Path:
    from PIL.ExifTags import IFD

    exif = Image.Exif()
    lat = 35.0 + north_m / 111_000
    d, m = int(lat), (lat - int(lat)) * 60
    exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (d, int(m), (m - int(m)) * 60), 3: "E", 4: (139, 0, 0.0)})
    Image.fromarray(np.full((40, 40, 3), 100, np.uint8)).save(path, quality=95, exif=exif)
    return path


def test_folders_pair_by_telemetry_when_present(tmp_path: Path):
    tdir, rdir = tmp_path / "t", tmp_path / "r"
    tdir.mkdir()
    rdir.mkdir()
    _gps_jpeg(tdir / "IMG_0001.jpg", 0.0)
    _gps_jpeg(tdir / "IMG_0002.jpg", 400.0)
    near1 = _gps_jpeg(rdir / "DJI_0100.jpg", 2.0)
    near2 = _gps_jpeg(rdir / "DJI_0101.jpg", 398.0)
    _gps_jpeg(rdir / "DJI_0102.jpg", 900.0)
    items = {i.id: i for i in pair_folders(tdir, rdir, k=1)}
    assert items["IMG_0001"].references == [near1] and items["IMG_0002"].references == [near2]


def test_distinct_ids_never_share_an_annotated_image(images: Path, tmp_path: Path):
    # "a/b" and "a_b" sanitised alike, and every all-Japanese id became "item": the index showed another
    # item's picture
    ids = ["a/b", "a_b", "東京", "大阪", "点検-01", "plain-id_1.x"]
    names = [image_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert names[-1] == "plain-id_1.x"
    assert not any(n.startswith("-") for n in names)  # "点検-01" gave "-01.jpg", read as an option by ls
    lines = [json.dumps({"id": i, "target": "imgs/a.png", "reference": "imgs/b.png"}) for i in ids]
    out = tmp_path / "out"
    run_batch(_inspector(), read_manifest(_manifest(tmp_path / "m.jsonl", lines)), out)
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in names:
        assert (out / "images" / f"{name}.jpg").is_file()
        assert f'src="images/{name}.jpg"' in page


def test_broken_json_line_message_reads_once(tmp_path: Path):
    items = read_manifest(_manifest(tmp_path / "m.jsonl", ['{"id": "broken']))
    assert items[0].error is not None and "at at" not in items[0].error
    assert "starting at column 8" in items[0].error


def test_folder_targets_sharing_a_stem_get_distinct_ids(images: Path, tmp_path: Path):
    # IMG_1.jpg and IMG_1.png both had id "IMG_1": one annotated image for two rows, and --resume skipped one
    targets, refs = tmp_path / "t", tmp_path / "r"
    targets.mkdir()
    refs.mkdir()
    (targets / "spot.png").write_bytes((images / "a.png").read_bytes())
    Image.open(images / "a.png").save(targets / "spot.jpg")
    (targets / "other.png").write_bytes((images / "b.png").read_bytes())
    (refs / "spot.png").write_bytes((images / "c.png").read_bytes())
    (refs / "other.png").write_bytes((images / "c.png").read_bytes())
    (refs / "OTHER.jpg").write_bytes((images / "c.png").read_bytes())
    items = {i.id: i for i in pair_folders(targets, refs)}
    assert set(items) == {"spot.jpg", "spot.png", "other"}
    assert len(items["other"].references) == 2  # both same-stem references are candidates


def test_index_shows_alignment_warnings(images: Path, tmp_path: Path):
    # a skipped reference candidate is an alignment warning; index.html showed only the report's warnings
    lines = [json.dumps({"id": "x", "target": "imgs/a.png", "reference": ["imgs/lost.png", "imgs/b.png"]})]
    out = tmp_path / "out"
    summary = run_batch(_inspector(), read_manifest(_manifest(tmp_path / "m.jsonl", lines)), out)
    assert summary.done == 1
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "reference skipped" in page and "lost.png: file not found" in page


def test_a_run_killed_midway_leaves_an_index_of_what_it_finished(images: Path, tmp_path: Path, monkeypatch):
    # index.html was written only at the end: a killed first run had none
    import tenken.inspect.batch as batch

    monkeypatch.setattr(batch, "INDEX_REFRESH_S", 0.0)
    items = [BatchItem(n, images / f"{n}.png", [images / "b.png"]) for n in ("a", "c", "b")]
    seen = []

    def kill_after_two(event):
        seen.append(event.item.id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(_inspector(), items, out, progress=kill_after_two)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "2 item(s)" in page and "images/c.jpg" in page


def test_a_single_inspection_report_has_the_target_stem_as_id(images: Path, tmp_path: Path):
    # `tenken inspect T R` wrote "id": null, so its report.json could not be scored against ground truth
    result = inspect_to_folder(_inspector(), images / "a.png", [images / "b.png"], tmp_path / "o")
    assert result.report.id == "a"
    assert json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))["id"] == "a"


def test_manifest_paths_expand_the_home_folder(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    items = read_manifest(_manifest(tmp_path / "m.jsonl", ['{"id": "a", "target": "~/t.jpg", "reference": "r.jpg"}']))
    assert items[0].target == tmp_path / "home" / "t.jpg" and items[0].references == [tmp_path / "r.jpg"]
