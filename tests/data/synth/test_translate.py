"""translate: the safeguards as functions (hypothesis) and the recipe against a scripted translator."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.core.artifacts import write_jsonl
from tenken.data.format import read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.recipes.translate import in_ja
from tenken.data.synth.safeguards import protect_literals, restore_literals, token_count, token_ratio
from tenken.data.synth.teachers import Teachers, load_llm
from tests.fixtures.scripted_teacher import ScriptedTeacher, serve
from tests.fixtures.translate_set import SENTENCES

literal = st.text(st.characters(blacklist_characters='"“”\n⟦⟧', blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(st.lists(literal, min_size=1, max_size=4), st.sampled_from(["say ", "「", " and "]))
def test_literals_round_trip_verbatim(lits, glue):
    text = glue.join(f'"{x}"' for x in lits)
    protected, found = protect_literals(text)
    assert found == lits and '"' not in protected
    back = restore_literals(protected, found)
    assert back is not None and all(f"「{x}」" in back for x in lits)
    assert restore_literals(protected.replace("⟦1⟧", ""), found) is None  # a lost marker is caught
    assert restore_literals(protected + "⟦1⟧", found) is None  # so is a repeated one


def test_token_ratio_units():
    assert token_count("The sign reads New York.") == 5
    assert token_count("看板には「New York」と書かれている。") == 13
    assert token_ratio("", "") == 1.0 and token_ratio("x", "") == float("inf")
    refs = [token_ratio(t.ja, t.en) for t in SENTENCES]
    assert min(refs) >= 0.75 and max(refs) <= 3.5  # the default band holds every reference translation


def test_mix_fraction_is_stable_and_close():
    ids = [f"s{i}" for i in range(4000)]
    share = sum(in_ja(i, 0.75) for i in ids) / len(ids)
    assert abs(share - 0.75) < 0.03 and [in_ja(i, 0.75) for i in ids[:50]] == [in_ja(i, 0.75) for i in ids[:50]]


@pytest.mark.network
def test_translate_keeps_literals_and_retranslates_out_of_band(tmp_path: Path):
    rows = [
        {"id": f"t{k}", "images": ["img.png"] if k < 3 else [], "task": "rec" if k == 3 else "vqa", "lang": "en",
         "messages": [{"role": "user", "content": ("<image>" if k < 3 else "") + t.en},
                      {"role": "assistant", "content": "1"}], "provenance": {"recipe": "src"}}
        for k, t in enumerate(SENTENCES)
    ]  # fmt: skip
    src = write_jsonl(tmp_path / "in" / "samples.jsonl", rows)
    teacher = ScriptedTeacher([], {"bad": {"tr_truncate": 1.0}, "good": {}})
    teacher.translations = list(SENTENCES)
    with serve(teacher) as url:
        teachers = Teachers(
            llm=load_llm(f"openai:bad@{url}", max_retries=0), llm2=load_llm(f"openai:good@{url}", max_retries=0)
        )
        res = run_synth("translate", src, tmp_path / "out", teachers, {"ja_fraction": 1.0, "candidates": 2})
        kept = read_samples(res.samples)
        by_src = {s.provenance.source_id: s for s in kept}
        for k, t in enumerate(SENTENCES):
            s = by_src[f"t{k}"]
            ratio = next(f for f in s.provenance.filters if f.name == "token_ratio")
            got = s.messages[0].content.removeprefix("<image>")
            cut = t.ja[: max(2, len(t.ja) // 4)]
            assert s.lang == "ja"
            if t.literals or token_ratio(cut, t.en) < 0.75:  # lost marker or out of band: the second model is used
                assert got == t.ja and ratio.reason == "retranslate"
            else:  # "はい。" cut to "はい" is in band: the check cannot see it (documented limit)
                assert got == cut and ratio.reason == "first"
        assert by_src["t0"].images == ["../in/img.png"] and by_src["t0"].messages[0].content.startswith("<image>")
        assert by_src["t3"].provenance.source_recipe == "src"
        sent = list(teacher.calls)
        # samples of one image see each other as context; a referring expression gets the noun-phrase few-shots
        assert any("Other texts about the same image:" in p and SENTENCES[2].en in p for p in sent)
        assert any("a noun phrase stays" in p and "English: The valve is tagged ⟦1⟧" in p for p in sent)
        # the mix: with ja_fraction=0 everything stays English, marked as such
        res = run_synth("translate", src, tmp_path / "en", teachers, {"ja_fraction": 0.0})
        assert all(s.lang == "en" and s.provenance.filters[0].name == "mix" for s in read_samples(res.samples))
        # no valid translation from either model: rejected with the failing filter
        teachers = Teachers(llm=load_llm(f"openai:bad@{url}", max_retries=0))
        res = run_synth("translate", src, tmp_path / "bad", teachers, {"ja_fraction": 1.0, "candidates": 1})
        assert res.rejected_by.get("token_ratio", 0) > 0
