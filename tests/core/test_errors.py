"""Readable messages for JSON lines that fail to parse."""

import json

import pytest

from tenken.core.errors import MissingDependencyError, describe_json_error, require_module


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id": "broken', "Unterminated string starting at column 8"),
        ("not json", "Expecting value at column 1"),
    ],
)
def test_json_error_names_the_column_once(text: str, expected: str):
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(text)
    message = describe_json_error(info.value)
    assert message == expected
    assert " at at " not in message


def test_require_module_names_the_extra_to_install():
    assert require_module("json", "eval", "x") is json
    with pytest.raises(MissingDependencyError, match=r"mAP needs no_such_pkg_xyz, .*pip install 'tenken\[eval\]'"):
        require_module("no_such_pkg_xyz", "eval", "mAP")
