"""``tenken serve admin-key`` and the help of the serve verbs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tenken.cli import app
from tenken.serve.db import Database
from tenken.serve.keys import authenticate


def test_admin_key_prints_a_working_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "admin-key", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.stdout)["key"]
    db = Database(f"sqlite:///{tmp_path / 'tenken.db'}")
    who = authenticate(db, key)
    assert who is not None and who.admin
    db.dispose()


def test_serve_verbs_have_help_with_examples() -> None:
    for args in (["serve", "--help"], ["serve-model", "--help"], ["serve", "worker", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "tenken serve" in result.output
