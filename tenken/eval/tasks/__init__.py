"""Benchmark tasks and benchmarks, by decorator: a new task (or a new benchmark of a known task) is one file here.

A **task** (:class:`~tenken.eval.tasks.base.BenchmarkTask`) is one class that knows how to build the per-sample
predictor of a model, score a ground-truth file against a predictions file, its headline metrics (tables) and
its primary per-sample metric (confidence intervals, paired comparison), its extra table and its plots.
A **benchmark** (:class:`~tenken.eval.tasks.base.BenchmarkSpec`) is a named dataset reader of one task
(``tenken eval run NAME``). Every module of this package is imported on the first lookup, so adding
``tenken/eval/tasks/mytask.py`` with ``@TASKS.register("mytask")`` and ``add_benchmark(BenchmarkSpec(...))`` is all
it takes (see ``docs/eval.md``).
"""

from __future__ import annotations

import pkgutil

from tenken.core.registry import Registry
from tenken.eval.tasks.base import BenchmarkSpec, BenchmarkTask

_MODULES = tuple(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name != "base")

TASKS: Registry[type[BenchmarkTask]] = Registry("benchmark task", modules=_MODULES)
"""Task name (``"vqa"``, ``"rec"``, ``"classify"``, ``"detection"``) -> task class."""

BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmark", modules=_MODULES)
"""Benchmark name (``tenken eval run NAME``) -> :class:`BenchmarkSpec`."""


def add_benchmark(spec: BenchmarkSpec) -> BenchmarkSpec:
    """Register ``spec`` under its name (in its task's module)."""
    return BENCHMARKS.register(spec.name)(spec)


def get_task(name: str) -> BenchmarkTask:
    """The task called ``name`` (an instance).

    Raises:
        InputError: no such task (the message lists the known ones).
    """
    return TASKS.get(name)()


def get_benchmark(name: str) -> BenchmarkSpec:
    """The benchmark called ``name``.

    Raises:
        InputError: no such benchmark (the message lists the known ones).
    """
    return BENCHMARKS.get(name)


__all__ = ["BENCHMARKS", "TASKS", "BenchmarkSpec", "BenchmarkTask", "add_benchmark", "get_benchmark", "get_task"]
