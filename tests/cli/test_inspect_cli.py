"""``tenken inspect`` (single pair, manifest, folders) and ``tenken report-schema``, including bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tenken.tasks.report import report_json_schema
from tests.inspect.synthetic import iou, make_pair, other_place


def _run(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=200)


@pytest.fixture(scope="module")
def pair(assets: Path, tmp_path_factory: pytest.TempPathFactory):
    return make_pair(assets, tmp_path_factory.mktemp("clipair"))


def test_example_pair_finds_the_pasted_objects(repo_root: Path, tmp_path: Path):
    walk = repo_root / "examples" / "walkway"
    out = tmp_path / "ex"
    res = _run("inspect", str(walk / "target.jpg"), str(walk / "reference.jpg"), "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    jsonschema.validate(report, report_json_schema())
    assert report == json.loads((out / "report.json").read_text(encoding="utf-8"))
    truth = json.loads((walk / "truth.json").read_text(encoding="utf-8"))["boxes"]
    for obj in truth:
        assert max(iou(d["box"], obj["box"]) for d in report["detections"]) > 0.5, obj["label"]
    png = Image.open(out / "annotated.png")
    assert png.height == report["target"]["height"] and png.width > 2 * report["target"]["width"]


def test_human_summary_in_english_with_a_param(pair, tmp_path: Path):
    target, reference, _ = pair
    # --lang takes any case, as the VLM verbs do ("EN" was refused)
    res = _run("inspect", str(target), str(reference), "--out", str(tmp_path / "o"), "--lang", "EN",
               "--param", "min_area=4")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "aligned with" in res.output and "finding(s)" in res.output and "report.json" in res.output


def test_reference_of_another_place_exits_1_with_the_reason_in_the_report(pair, assets: Path, tmp_path: Path):
    target, _, _ = pair
    out = tmp_path / "o"
    res = _run("inspect", str(target), str(other_place(assets, tmp_path)), "--out", str(out))
    assert res.exit_code == 1
    assert "not aligned" in res.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["alignment"]["ok"] is False and report["detections"] == []
    assert (out / "annotated.png").is_file()


def test_registered_tiles_skip_matching_and_find_the_change(aerial: Path, tmp_path: Path):
    # LEVIR tiles are orthorectified: the seasons differ too much for SIFT, but no matching is needed
    levir = aerial
    name = "test_2_0000_0000.png"
    out = tmp_path / "o"
    res = _run("inspect", str(levir / "B" / name), str(levir / "A" / name), "--registered", "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["alignment"]["ok"] is True
    assert report["alignment"]["homography"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert any("registered" in w for w in report["alignment"]["warnings"] + report["warnings"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "{t}", "{missing}", "--out", "{out}"], "nothere.jpg: file not found"),
        (["inspect", "{t}"], "at least one REFERENCE"),
        (["inspect", "{t}", "{r}", "--detector", "vlm", "--out", "{out}"], "needs a model"),
        (["inspect", "{t}", "{r}", "--detector", "magic"], "--detector must be"),
        (["inspect", "{t}", "{r}", "--lang", "fr"], "--lang must be ja or en"),
        (["inspect", "{t}", "{r}", "--param", "sensitivity"], "KEY=VALUE"),
        (["inspect", "{t}", "{r}", "--param", "nonsense=3"], "unknown change-detector parameter"),
        (["inspect", "{t}", "{r}", "--out", "{blocker}/x"], "not writable"),
        (["inspect", "--pairs", "{missing}", "--out", "{out}"], "manifest not found"),
        (["inspect", "--targets", "{tdir}", "--out", "{out}"], "go together"),
        (["inspect", "{t}", "{r}", "--pairs", "{missing}"], "exactly one of"),
        (["inspect", "--pairs", "{t}", "--out", "{out}", "--shard", "3/2"], "--shard"),
        (["inspect", "{t}", "{r}", "--k", "0"], "greater than or equal to 1"),  # was accepted
    ],
)
def test_bad_input_gives_one_clear_line(pair, tmp_path: Path, args: list[str], message: str, monkeypatch):
    monkeypatch.delenv("TENKEN_MODEL", raising=False)
    target, reference, _ = pair
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    values = {"t": target, "r": reference, "missing": tmp_path / "nothere.jpg", "out": tmp_path / "out",
              "blocker": blocker, "tdir": target.parent}  # fmt: skip
    res = _run(*(a.format(**values) for a in args))
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())  # the error console wraps long lines
    assert message in text and "Traceback" not in text


def test_manifest_batch_records_bad_lines_and_goes_on(pair, tmp_path: Path):
    target, reference, _ = pair
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(target, folder / "t.jpg")
    shutil.copy(reference, folder / "r.jpg")
    Path(folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / "m.jsonl").write_text(
        "\n".join([
            '{"id": "good", "target": "t.jpg", "reference": "r.jpg"}',
            '{"id": "bad-image", "target": "broken.jpg", "reference": "r.jpg"}',
            "{oops",
            '{"id": "good", "target": "t.jpg", "reference": "r.jpg"}',
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "out"
    res = _run("inspect", "--pairs", str(folder / "m.jsonl"), "--out", str(out), "--json")
    assert res.exit_code == 1, res.output  # some items failed; the run still finished
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["failed"]) == (1, 3)
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["good", "bad-image", "line-3", "good#line-4"]
    assert "broken.jpg" in rows[1]["error"] and "m.jsonl:3" in rows[2]["error"] and "duplicate id" in rows[3]["error"]
    stderr = " ".join(res.stderr.split())
    assert "line-3" in stderr and "duplicate id" in stderr
    assert (out / "index.html").is_file() and (out / "images" / "good.jpg").is_file()
    again = _run("inspect", "--pairs", str(folder / "m.jsonl"), "--out", str(out), "--resume", "--json")
    assert json.loads(again.stdout)["skipped_already_done"] == 4


def test_folders_with_an_empty_references_folder(pair, tmp_path: Path):
    target, _, _ = pair
    empty = tmp_path / "refs"
    empty.mkdir()
    res = _run("inspect", "--targets", str(target.parent), "--references", str(empty), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "holds no images" in " ".join(res.output.split())


def test_folders_paired_by_name(pair, tmp_path: Path):
    target, reference, _ = pair
    tdir, rdir = tmp_path / "t", tmp_path / "r"
    tdir.mkdir()
    rdir.mkdir()
    shutil.copy(target, tdir / "spot1.jpg")
    shutil.copy(reference, rdir / "spot1.jpg")
    out = tmp_path / "o"
    res = _run("inspect", "--targets", str(tdir), "--references", str(rdir), "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    row = json.loads((out / "results.jsonl").read_text(encoding="utf-8"))
    assert row["id"] == "spot1" and row["alignment"]["ok"] is True


def test_report_schema_verb(tmp_path: Path):
    res = _run("report-schema")
    assert res.exit_code == 0 and json.loads(res.stdout) == json.loads(json.dumps(report_json_schema()))
    res = _run("report-schema", "--out", str(tmp_path / "s.json"))
    assert (
        res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["$id"] == "tenken.report/1"
    )


def test_help_teaches_with_examples():
    res = _run("inspect", "--help")
    assert res.exit_code == 0
    for text in ("--pairs", "--resume", "--shard", "--targets", "examples/walkway/target.jpg", "--detector"):
        assert text in res.output


@pytest.mark.slow  # loads the checkpoint again with the default answer length (~30 s on a shared CPU)
def test_hybrid_with_a_tiny_model_checkpoint(pair, tiny_llava_path: Path, tmp_path: Path):
    target, reference, _ = pair
    out = tmp_path / "o"
    res = _run("inspect", str(target), str(reference), "--out", str(out), "--detector", "hybrid",
               "--model", str(tiny_llava_path), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    jsonschema.validate(report, report_json_schema())
    assert report["detectors"] == ["classical", "vlm"] and report["model"]["family"] == "llava"
    assert all(d["label_pass2"] is not None for d in report["detections"])


def test_batch_messages_print_ids_and_paths_verbatim_on_one_line(tmp_path: Path):
    # ids and paths are data: "[/x]" crashed rich markup and "[old]" vanished; long lines were wrapped in logs
    folder = tmp_path / "[old] site"
    folder.mkdir()
    long_name = "x" * 150
    (folder / "m.jsonl").write_text(
        json.dumps({"id": "[/x] spot", "target": f"{long_name}.jpg", "reference": "r.jpg"}) + "\n", encoding="utf-8"
    )
    res = CliRunner().invoke(app, ["inspect", "--pairs", str(folder / "m.jsonl"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    line = next(x for x in res.stderr.splitlines() if x.startswith("error"))
    assert "[/x] spot" in line and f"[old] site/{long_name}.jpg: file not found" in line


def test_every_verb_takes_json(tmp_path: Path):
    # report-schema refused --json ("No such option"), unlike every other verb
    res = _run("report-schema", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["$id"] == "tenken.report/1"
    res = _run("report-schema", "--out", str(tmp_path / "s.json"), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == {"wrote": str(tmp_path / "s.json")}
