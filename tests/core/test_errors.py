"""Readable messages for JSON lines that fail to parse."""

import json

import pytest

from tenken.core.errors import describe_json_error


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
