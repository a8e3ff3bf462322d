"""Interleaved documents: Japanese sentence splitting, symbol-only sentence merging, image-to-sentence
assignment, and the document rules (image count, sentence count, assigned similarity, token length).

Sentence splitting uses bunkai's rule-based splitter (no model download). bunkai 1.5's optional line-break
model imports names that transformers 5 removed, so bunkai is imported with ``transformers`` hidden (it then
takes its rule-only path). Without bunkai, the fallback splits after 。．！？!? (and their runs) and at
newlines, keeping closing brackets and quotes with their sentence.

Assignment: each image goes to one distinct sentence, maximising the total image–sentence cosine
(``scipy.optimize.linear_sum_assignment``, the Hungarian method); when there are more images than sentences
the surplus images are left unassigned (-1).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from tenken.data.curate.decisions import Drop
from tenken.data.curate.options import CurateOptions

IMAGE_MARK = "<image>"
_WORDY = re.compile(r"[\w\u3040-\u30ff\u3400-\u9fff]")  # letters, digits, kana, kanji
_FALLBACK_SPLIT = re.compile(r"(?<=[。．！？!?])(?![。．！？!?」』）)】〕\"'])|\n+")


@lru_cache(maxsize=1)
def _bunkai() -> Callable[[str], list[str]] | None:
    saved = sys.modules.get("transformers")
    sys.modules["transformers"] = None  # type: ignore[assignment]  # makes bunkai take its rule-only path
    try:
        from bunkai import Bunkai
    except ImportError:
        return None
    finally:
        if saved is None:
            del sys.modules["transformers"]
        else:
            sys.modules["transformers"] = saved
    splitter = Bunkai()
    return lambda text: list(splitter(text))


def bunkai_available() -> bool:
    """Whether bunkai's splitter can be used (else the documented fallback splits)."""
    return _bunkai() is not None


def split_sentences(text: str) -> list[str]:
    """Japanese sentences of ``text`` (bunkai, or the fallback), stripped, empty ones dropped."""
    splitter = _bunkai()
    parts = splitter(text) if splitter is not None else _FALLBACK_SPLIT.split(text)
    return [s.strip() for s in parts if s and s.strip()]


def merge_symbol_only(sentences: Sequence[str]) -> list[str]:
    """Sentences made only of symbols (``★★★``, ``→``, ``（笑）`` keeps its kanji) joined to the sentence before
    them (the first one to the sentence after it)."""
    out: list[str] = []
    pending = ""
    for s in sentences:
        if _WORDY.search(s) is None:
            if out:
                out[-1] += s
            else:
                pending += s
        else:
            out.append(pending + s)
            pending = ""
    if pending:
        out.append(pending)
    return out


def assign_images(similarity: np.ndarray) -> np.ndarray:
    """The sentence of each image under the one-to-one assignment of largest total similarity.

    Args:
        similarity: ``(I, S)`` cosine of image ``i`` with sentence ``s``.

    Returns:
        ``(I,)`` int64 sentence index per image, -1 for an image left without a sentence (when ``I > S``).
    """
    sim = np.asarray(similarity, dtype=np.float64)
    out = np.full(sim.shape[0], -1, np.int64)
    if sim.size:
        rows, cols = linear_sum_assignment(sim, maximize=True)
        out[rows] = cols
    return out


def image_order(assignment: Sequence[int]) -> list[int]:
    """Image indices in the order their marks appear: by assigned sentence, then by index (-1: left out)."""
    return [i for s, i in sorted((int(s), i) for i, s in enumerate(assignment) if s >= 0)]


def compose(sentences: Sequence[str], assignment: Sequence[int]) -> tuple[str, list[int]]:
    """The document text with an ``<image>`` mark before each image's sentence, and the image order.

    Returns:
        ``(text, order)``: sentences joined without separator (Japanese), and :func:`image_order`.
    """
    order = image_order(assignment)
    marks: dict[int, int] = {}
    for i in order:
        marks[int(assignment[i])] = marks.get(int(assignment[i]), 0) + 1
    text = "".join(IMAGE_MARK * marks.get(k, 0) + s for k, s in enumerate(sentences))
    return text, order


@lru_cache(maxsize=2)
def _tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def text_tokens(text: str, opts: CurateOptions) -> int:
    """Tokens of ``text`` for the LLM: ``opts.tokenizer``'s, else one per character."""
    return len(_tokenizer(opts.tokenizer)(text)["input_ids"]) if opts.tokenizer else len(text)


def document_drop(
    n_images: int, n_sentences: int, assigned: Sequence[float] | None, n_text_tokens: int, opts: CurateOptions
) -> Drop | None:
    """The document rules in order: image count, sentence count, every assigned similarity, token length.

    Args:
        n_images: images left after the image filters and dedup.
        n_sentences: sentences after merging.
        assigned: cosine of each image with its assigned sentence (None: no similarity model, rule skipped).
        n_text_tokens: :func:`text_tokens` of the document's text; the document's length adds
            ``opts.image_tokens`` per image.
    """
    if not opts.min_images <= n_images <= opts.max_images:
        bound = opts.min_images if n_images < opts.min_images else opts.max_images
        return Drop("doc_images", f"{n_images} images outside {opts.min_images}–{opts.max_images}", n_images, bound)
    if not opts.min_sentences <= n_sentences <= opts.max_sentences:
        bound = opts.min_sentences if n_sentences < opts.min_sentences else opts.max_sentences
        reason = f"{n_sentences} sentences outside {opts.min_sentences}–{opts.max_sentences}"
        return Drop("doc_sentences", reason, n_sentences, bound)
    if assigned is not None and len(assigned) and min(assigned) < opts.min_pair_similarity:
        low = float(min(assigned))
        reason = f"an assigned image–sentence cosine {low:.3f} < {opts.min_pair_similarity}"
        return Drop("doc_similarity", reason, low, opts.min_pair_similarity)
    tokens = n_text_tokens + n_images * opts.image_tokens
    if tokens > opts.max_tokens:
        return Drop("doc_tokens", f"{tokens} tokens > {opts.max_tokens}", tokens, opts.max_tokens)
    return None
