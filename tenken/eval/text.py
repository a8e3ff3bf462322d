"""Text metrics: Japanese ROUGE-L (the llm-jp-eval-mm convention), exact match and normalised match.

ROUGE-L: rouge-score's ``rougeL`` F-measure between one reference and one prediction, with MeCab word tokens
(fugashi + unidic-lite, ``-Owakati``) instead of rouge-score's default tokenizer (which drops every
non-ASCII character and so scores Japanese as empty). Before tokenising, text is normalised: emoji removed,
neologdn (when installed and ``use_neologdn`` allows), NFKC, whitespace runs collapsed to one space. The
per-sample score is x100 (0..100) and a dataset's score is the mean over samples.

Word tokens matter: "白色" against "車は白色です。" is 1 common token of 1 and 5 tokens, F = 33.3.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tenken.core.errors import require_module

_EMOJI = re.compile(
    "[\U0001f600-\U0001f64f\U0001f300-\U0001f5ff\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff\U00002702-\U000027b0]+"
)
_PUNCT = re.compile(r"[\s\.,!?;:'\"`、。，．！？：；「」『』（）()\[\]【】・…〜~-]+")


def neologdn_available() -> bool:
    """Whether the optional ``neologdn`` normaliser is installed."""
    return importlib.util.find_spec("neologdn") is not None


@lru_cache(maxsize=1)
def _emoji_module():
    """The optional ``emoji`` package (llm-jp-eval-mm drops every character it flags), or None."""
    try:
        import emoji
    except ImportError:
        return None
    return emoji


def remove_emoji(text: str) -> str:
    """Drop emoji: every character the ``emoji`` package flags (when installed), then the pictograph ranges."""
    module = _emoji_module()
    if module is not None:
        text = "".join("" if module.is_emoji(c) else c for c in text)
    return _EMOJI.sub("", text)


def normalize_text(text: str, use_neologdn: bool | None = None) -> str:
    """The normalisation applied before tokenising for ROUGE-L.

    Emoji removed (:func:`remove_emoji`), then neologdn (``use_neologdn=None`` means "when installed"), then
    NFKC, then runs of whitespace collapsed to one space and the ends stripped.
    """
    text = remove_emoji(str(text))
    if use_neologdn is None:
        use_neologdn = neologdn_available()
    if use_neologdn:
        import neologdn

        text = neologdn.normalize(text)
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


class MecabTokenizer:
    """Word tokenizer for rouge-score: normalise, then MeCab (fugashi + unidic-lite) surface forms."""

    def __init__(self, use_neologdn: bool | None = None) -> None:
        require_module("unidic_lite", "ja", "Japanese ROUGE-L (the MeCab dictionary)")
        Tagger = require_module("fugashi", "ja", "Japanese ROUGE-L (MeCab tokens)").Tagger

        self.use_neologdn = neologdn_available() if use_neologdn is None else use_neologdn
        self._tagger = Tagger("-Owakati")

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text`` after :func:`normalize_text`."""
        return self._tagger.parse(normalize_text(text, self.use_neologdn)).split()


@lru_cache(maxsize=2)
def _scorer(use_neologdn: bool):
    rouge_scorer = require_module("rouge_score.rouge_scorer", "ja", "ROUGE-L")
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=MecabTokenizer(use_neologdn))


def rouge_l(references: Sequence[str], predictions: Sequence[str], use_neologdn: bool | None = None) -> list[float]:
    """Per-sample Japanese ROUGE-L F-measure x100 (0..100), ``references[i]`` against ``predictions[i]``."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    scorer = _scorer(neologdn_available() if use_neologdn is None else bool(use_neologdn))
    return [
        100.0 * scorer.score(str(r), str(p))["rougeL"].fmeasure for r, p in zip(references, predictions, strict=True)
    ]


def rouge_l_config(use_neologdn: bool | None = None) -> dict[str, Any]:
    """How ROUGE-L was computed, for ``scores.json`` (so two runs are only compared when this agrees)."""
    return {
        "tokenizer": "fugashi+unidic-lite (MeCab -Owakati)",
        "neologdn": neologdn_available() if use_neologdn is None else bool(use_neologdn),
        "nfkc": True,
        "scale": 100,
    }


def normalize_answer(text: str) -> str:
    """Key for normalised match: NFKC, lower case, whitespace and punctuation (JA and EN) removed."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def exact_match(references: Sequence[str], predictions: Sequence[str]) -> list[float]:
    """1.0 where the prediction equals the reference after stripping surrounding whitespace, else 0.0."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    return [float(str(r).strip() == str(p).strip()) for r, p in zip(references, predictions, strict=True)]


def normalized_match(references: Sequence[str], predictions: Sequence[str]) -> list[float]:
    """1.0 where :func:`normalize_answer` of both agree (and the reference is not empty), else 0.0."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    out = []
    for r, p in zip(references, predictions, strict=True):
        key = normalize_answer(r)
        out.append(float(bool(key) and key == normalize_answer(p)))
    return out
