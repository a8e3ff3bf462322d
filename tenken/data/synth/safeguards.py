"""Translation safeguards as pure functions: quoted literals kept verbatim, and the length-ratio check.

- :func:`protect_literals` swaps each double-quoted literal (``"New York"``, ``“New York”``) for a marker
  ``⟦1⟧`` the translator is told to keep; :func:`restore_literals` puts the literal back in Japanese corner
  brackets (``「New York」``) and fails when a marker was lost or duplicated, so a literal is never translated.
- :func:`token_count` counts script-aware units: one per CJK character (kanji, hiragana, katakana) and one per
  run of letters or digits (a word); punctuation and spaces count nothing. It needs no tokenizer, so the ratio
  band means the same for every teacher.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r'"([^"\n]{1,200})"|“([^”\n]{1,200})”')
_MARKER = re.compile(r"⟦(\d+)⟧")
_UNITS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_\u3040-\u30ff\u3400-\u9fff]+|\d+")


def protect_literals(text: str) -> tuple[str, list[str]]:
    """``text`` with its quoted literals replaced by ``⟦1⟧, ⟦2⟧, ...`` (in order), and the literals."""
    literals: list[str] = []

    def swap(m: re.Match[str]) -> str:
        literals.append(m.group(1) if m.group(1) is not None else m.group(2))
        return f"⟦{len(literals)}⟧"

    return _QUOTED.sub(swap, text), literals


def restore_literals(text: str, literals: list[str], open_quote: str = "「", close_quote: str = "」") -> str | None:
    """Markers of ``text`` -> their literals in quotes; None when a marker is missing, repeated or unknown."""
    found = [int(k) for k in _MARKER.findall(text)]
    if sorted(found) != list(range(1, len(literals) + 1)):
        return None

    def put(m: re.Match[str]) -> str:
        return f"{open_quote}{literals[int(m.group(1)) - 1]}{close_quote}"

    out = _MARKER.sub(put, text)
    # a translator that kept the source's own quotes around the marker gives 「「...」」 or "「...」"
    for lit in literals:
        q = f"{open_quote}{lit}{close_quote}"
        for wrapped in (f"{open_quote}{q}{close_quote}", f'"{q}"', f"“{q}”"):
            out = out.replace(wrapped, q)
    return out


def token_count(text: str) -> int:
    """Script-aware units of ``text`` (see the module docstring); >= 0."""
    return len(_UNITS.findall(text))


def token_ratio(output: str, source: str) -> float:
    """``token_count(output) / token_count(source)`` (``inf`` for a source without units and a non-empty
    output, 1.0 when both are empty)."""
    n_in, n_out = token_count(source), token_count(output)
    if n_in == 0:
        return 1.0 if n_out == 0 else float("inf")
    return n_out / n_in
