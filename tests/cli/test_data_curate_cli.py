"""``tenken data curate`` and ``tenken data stats`` end to end through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tests.data.curate.corpus import pairs_corpus, write_corpus

runner = CliRunner()


def test_curate_then_stats(tmp_path: Path) -> None:
    samples, expected = pairs_corpus()
    write_corpus(tmp_path / "in", samples, "wds", "pairs", n_shards=2)
    out = tmp_path / "out"
    args = ["data", "curate", str(tmp_path / "in"), "--out", str(out), "--nsfw", "none", "--frequent-max", "3",
            "--text-max-repeats", "2", "--json"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["kept"] == sum(f is None for f in expected.values())
    assert (out / "shards" / "part-0.tar").is_file()
    res = runner.invoke(app, ["data", "stats", str(out), "--per-filter", "2", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    assert {r["filter"] for r in stats["funnel"]} == {f for f in expected.values() if f}
    sheet = Image.open(stats["sheets"]["min_side"])
    assert sheet.width > 300 and sheet.height > 200
    assert Image.open(stats["plot"]).format == "PNG"


def test_bad_input_is_one_line_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data", "curate", str(tmp_path / "nope.tar"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "nope.tar: file not found" in res.output
    res = runner.invoke(app, ["data", "stats", str(tmp_path)])
    assert res.exit_code == 2 and "funnel.json" in res.output
    res = runner.invoke(app, ["data", "curate", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "3/2"])
    assert res.exit_code == 2 and "--shard" in res.output
