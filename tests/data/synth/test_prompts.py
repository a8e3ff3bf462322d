"""Every prompt is versioned, bilingual, and shown verbatim in docs/data.md with every recipe option."""

from __future__ import annotations

from pathlib import Path

from tenken.data.synth.prompts import PROMPTS, Prompt
from tenken.data.synth.recipe import RECIPES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "data.md"


def test_prompts_are_versioned_and_documented_verbatim():
    text = DOCS.read_text(encoding="utf-8")
    versions = [p.version for p in PROMPTS]
    assert len(set(versions)) == len(versions)
    for p in PROMPTS:
        assert p.version.rsplit("/", 1)[-1].isdigit() and p.ja and p.en
        assert p.en in text and p.ja in text, p.version
    for name, cls in RECIPES.items():
        assert f"### `{name}`" in text
        for option in cls.Options.model_fields:
            assert f"| `{option}` |" in text, (name, option)
        assert all(p in PROMPTS for p in cls.prompts)


def test_fill_replaces_fields_only():
    p = Prompt("x/1", ja="「{a}」{b}", en='{"k": 1} {a}')
    assert p.fill("en", a="cars") == '{"k": 1} cars' and p.fill("ja", a="車", b="!") == "「車」!"
