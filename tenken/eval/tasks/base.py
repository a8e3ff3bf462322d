"""What a benchmark task is (:class:`BenchmarkTask`), what a benchmark is (:class:`BenchmarkSpec`), and the
typed result of scoring a ground-truth file against a predictions file (:class:`Scored`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from tenken.core.artifacts import LoadReport
from tenken.core.errors import InputError

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge
    from tenken.vlm.model import VLM

Predict = Callable[[Any], dict[str, Any]]
"""A per-sample predictor: ``sample -> dict`` of prediction fields (one line of ``predictions.jsonl``)."""


class TaskScores(Protocol):
    """A task's typed scores: ``to_dict()`` gives the JSON-ready dict (the ``scores`` of ``scores.json``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the scores."""
        ...


S = TypeVar("S", bound=TaskScores)


@dataclass
class Scored(Generic[S]):
    """The scores of a ground-truth file against a predictions file.

    Attributes:
        scores: the task's typed scores (e.g. :class:`tenken.eval.scoring.DetectionFileScores`).
        input: what was skipped and which ids had no prediction (never scored silently).
        per_sample: one dict per ground-truth sample (``id`` and its per-sample values), when asked for.
        per_sample_file: where ``per_sample`` was written (the CLI's ``--per-sample``), else None.
    """

    scores: S
    input: LoadReport
    per_sample: list[dict[str, Any]] | None = None
    per_sample_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{**scores, "per_sample"?, "input": {...}, "per_sample_file"?}`` (the CLI's ``--json`` output)."""
        out = self.scores.to_dict()
        if self.per_sample is not None:
            out["per_sample"] = self.per_sample
        out["input"] = self.input.to_dict()
        if self.per_sample_file is not None:
            out["per_sample_file"] = self.per_sample_file
        return out


@dataclass(frozen=True)
class ModelSettings:
    """How a benchmark's model-backed predictor is built (``tenken eval run``'s options).

    Attributes:
        model: a VLM spec for :func:`tenken.load_vlm` (``"classical"`` for anomaly pairs without a VLM).
        lang: prompt language (None: the benchmark's own).
        family: the model family (required over a server).
        vlm_options: further keyword arguments for :func:`tenken.load_vlm` (None values are dropped).
        tasks: the task-set file of ``classify`` (None: the shipped example).
        detector: ``anomaly``: ``classical``, ``vlm`` or ``hybrid``.
        inspect_options: ``anomaly``: further :class:`tenken.Inspector` keyword arguments.
    """

    model: str
    lang: str | None = None
    family: str | None = None
    vlm_options: dict[str, Any] = field(default_factory=dict)
    tasks: str | None = None
    detector: str | None = None
    inspect_options: dict[str, Any] = field(default_factory=dict)

    def load_vlm(self) -> VLM:
        """The VLM of :attr:`model`."""
        import tenken

        options = {k: v for k, v in self.vlm_options.items() if v is not None}
        return tenken.load_vlm(self.model, family=self.family, **options)


@dataclass(frozen=True)
class BenchmarkSpec:
    """A named benchmark: its task and how to read its samples.

    Attributes:
        name: the CLI name (``tenken eval run NAME``).
        task: the :class:`BenchmarkTask` name that predicts and scores it.
        load: ``path -> (samples, LoadReport)``.
        lang: the prompt language of the model-backed predictor.
        short: VQA only: ask for a short answer.
        description: one line for ``--help``.
        has_split: ``load`` takes ``split=`` and ``images_dir=`` (published datasets).
    """

    name: str
    task: str
    load: Callable[..., tuple[list[Any], LoadReport]]
    lang: str
    description: str
    short: bool = False
    has_split: bool = False

    def read(
        self, path: str | Path, split: str | None = None, images_dir: str | Path | None = None
    ) -> tuple[list[Any], LoadReport]:
        """Read the benchmark's samples from ``path`` (``split`` and ``images_dir`` only for published
        datasets, whose image folder is separate from the annotation file).

        Raises:
            InputError: ``split``/``images_dir`` given for a benchmark that reads its own image paths.
        """
        if (split is not None or images_dir is not None) and not self.has_split:
            raise InputError(
                f"benchmark {self.name!r} reads image paths from its JSONL; --split/--images are for "
                "published datasets (ja-vg-vqa-500, ref-l4)"
            )
        kwargs: dict[str, Any] = {}
        if split is not None:
            kwargs["split"] = split
        if images_dir is not None:
            kwargs["images_dir"] = images_dir
        return self.load(Path(path), **kwargs)


class BenchmarkTask(ABC):
    """One kind of benchmark (VQA, REC, classification, detection): everything tenken does differently per task.

    Class attributes:
        name: the registry name (``scores.json``'s ``task``).
        primary: the per-sample value whose mean is the headline score (bootstrap interval, paired comparison).
        headline: the summary metrics of tables, in order.
    """

    name: ClassVar[str]
    primary: ClassVar[str]
    headline: ClassVar[tuple[str, ...]]

    @abstractmethod
    def predictor(self, benchmark: BenchmarkSpec, settings: ModelSettings) -> Predict:
        """The per-sample predict function backed by ``settings.model``."""

    @abstractmethod
    def score(
        self, gt_path: str | Path, pred_path: str | Path, *, judge: LLMJudge | None = None, per_sample: bool = False
    ) -> Scored[Any]:
        """Score the ground-truth file ``gt_path`` against the predictions ``pred_path`` (``per_sample``: keep
        the per-sample rows; ``judge``: an LLM judge, for tasks that use one)."""

    def extra_table(self, scores: dict[str, Any]) -> str | None:
        """A markdown table shown under a run's summary (e.g. recall by box size), or None."""
        return None

    def plots(self, names: Sequence[str], scores: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
        """Task-specific PNG plots comparing runs (``scores[i]`` of run ``names[i]``) written into ``folder``."""
        return []
