"""Comparing run folders: unreadable inputs are clear errors."""

import pytest

from tenken.core.errors import InputError
from tenken.eval.compare import compare_runs


def test_a_corrupt_scores_json_is_an_input_error(tmp_path):
    # a half-written scores.json was a JSONDecodeError traceback
    (tmp_path / "scores.json").write_text("{bad", encoding="utf-8")
    with pytest.raises(InputError, match=r"not a readable scores\.json"):
        compare_runs([tmp_path])
