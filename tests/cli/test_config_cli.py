"""``tenken classes`` / ``tenken tasks`` as module-level verbs: run through their own app and called directly."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tenken.cli import config


def test_the_group_app_runs_on_its_own():
    res = CliRunner().invoke(config.app, ["tasks", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["name"] == "example-assembly-line"


def test_a_verb_is_a_plain_function(capsys):
    config.classes_cmd(file=None, json_out=True)
    data = json.loads(capsys.readouterr().out)
    assert len(data["classes"]) == 14 and all(c["ja"] for c in data["classes"])
