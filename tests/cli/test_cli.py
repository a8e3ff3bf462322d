import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from tenken import __version__
from tenken.cli import app

runner = CliRunner()


def test_version_and_help():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.stdout
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "classes" in r.stdout


def test_classes_json_lists_japanese_names():
    r = runner.invoke(app, ["classes", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"id": "water_leakage", "en": "water leakage", "ja": "水漏れ"}.items() <= data["classes"][
        -1
    ].items()


def test_tenken_error_is_one_line_without_traceback(tmp_path):
    r = runner.invoke(app, ["tasks", "--tasks", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2
    assert "error:" in r.output and "missing.yaml" in r.output and "Traceback" not in r.output


def test_debug_shows_the_exception(tmp_path):
    r = runner.invoke(app, ["--debug", "tasks", "--tasks", str(tmp_path / "missing.yaml")])
    assert r.exit_code != 0 and r.exception is not None


def test_installed_console_script():
    exe = shutil.which("tenken")
    if exe is None:
        pytest.skip("tenken is not installed in this environment (pip install -e .)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and __version__ in out.stdout
    out = subprocess.run([exe, "classes", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["name"] == "default"


def test_long_error_stays_on_one_line(tmp_path):
    # a log line per error: rich must not wrap the message at the terminal width
    missing = tmp_path / ("a_rather_long_folder_name_" * 4) / "missing.yaml"
    r = runner.invoke(app, ["tasks", "--tasks", str(missing)], terminal_width=80)
    assert r.exit_code == 2
    line = next(x for x in r.output.splitlines() if x.startswith("error:"))
    assert str(missing) in line and "not found" in line


def test_error_keeps_brackets_in_paths(tmp_path):
    missing = tmp_path / "[north]" / "missing.yaml"  # rich markup used to swallow "[north]"
    r = runner.invoke(app, ["tasks", "--tasks", str(missing)], terminal_width=200)
    assert r.exit_code == 2 and str(missing) in r.output


def test_debug_works_after_the_verb_too(tmp_path):
    r = runner.invoke(app, ["tasks", "--tasks", str(tmp_path / "missing.yaml"), "--debug"])
    assert r.exit_code != 0 and r.exception is not None and "No such option" not in r.output


def _commands(cmd, path):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, [*path, name])


def test_help_text_never_loses_bracketed_text_to_rich_markup():
    # "[x1,y1,x2,y2]" in a docstring is a rich tag: `eval detection --help` showed "boxes": [, ...]
    import re

    import typer

    tag_like = re.compile(r"(?<!\\)\[([a-zA-Z#/@][^\[\]]*)\]")
    for path, cmd in _commands(typer.main.get_command(app), []):
        texts = [cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)]
        for inner in (m for t in texts for m in tag_like.findall(t)):
            res = CliRunner().invoke(app, [*path, "--help"], terminal_width=300)
            assert inner in res.output, f"tenken {' '.join(path)} --help drops [{inner}]"


def test_every_verb_group_is_wired_in_help_panel_order():
    out = runner.invoke(app, ["--help"], terminal_width=200).stdout
    panels = ["Inspection", "Alignment", "Vision-language model", "Configuration", "Evaluation", "Data"]
    assert [out.index(f"─ {p} ") for p in panels] == sorted(out.index(f"─ {p} ") for p in panels)
    verbs = ("inspect", "report-schema", "align", "ask", "ground", "count", "classify", "classes", "tasks", "eval")
    for verb in (*verbs, "data"):
        assert f"│ {verb} " in out, verb
