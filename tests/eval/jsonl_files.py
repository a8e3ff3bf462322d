"""Test helper: write JSONL files from objects (or raw strings, for malformed lines)."""

import json
from pathlib import Path


def write(path: Path, lines: list) -> Path:
    """Write one line per item: a str as it is, anything else as JSON (non-ASCII kept); returns ``path``."""
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path
