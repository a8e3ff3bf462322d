"""Configuration files shipped with tenken and their validated loaders.

- ``anomaly_classes.yaml``: the default anomaly classes (English id, English and Japanese names, aliases).
- ``factory_tasks.yaml``: an example factory task set (10 tasks, each recognised by a tool).

Users pass their own files of the same shape (YAML or JSON) with ``--classes`` / ``--tasks``.
"""

from __future__ import annotations

import json
import os
import unicodedata
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tenken.core.errors import ConfigError

UNKNOWN = "unknown"
"""The label given to an answer that names no known class or task."""

Lang = Literal["ja", "en"]


def _norm(text: str) -> str:
    """NFKC, lower case, spaces/underscores/hyphens folded: the key used to match labels."""
    t = unicodedata.normalize("NFKC", str(text)).strip().lower()
    for ch in "_-　":
        t = t.replace(ch, " ")
    return " ".join(t.split()).strip(" .。、,\"'`「」『』")


class _Named(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="canonical label, snake_case English")
    en: str = Field(min_length=1)
    ja: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()

    def name(self, lang: Lang) -> str:
        """The display name in ``lang``."""
        return self.ja if lang == "ja" else self.en


class AnomalyClass(_Named):
    """One anomaly class: ``id`` (report label), English and Japanese names, optional aliases."""


class _LabelSet(BaseModel):
    """Shared lookup logic: exact names first, then aliases, then a unique substring match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"

    def _items(self) -> tuple[_Named, ...]:  # pragma: no cover - overridden
        raise NotImplementedError

    @cached_property
    def _lookup(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for item in self._items():
            for key in (item.id, item.en, item.ja, *item.aliases):
                table.setdefault(_norm(key), item.id)
        return table

    @property
    def ids(self) -> list[str]:
        """Canonical ids in file order."""
        return [item.id for item in self._items()]

    def get(self, label_id: str) -> _Named:
        """The entry with this canonical id (``KeyError`` if absent)."""
        for item in self._items():
            if item.id == label_id:
                return item
        raise KeyError(label_id)

    def display(self, label_id: str, lang: Lang) -> str:
        """Display name of ``label_id`` in ``lang``; ids not in the set are returned unchanged."""
        try:
            return self.get(label_id).name(lang)
        except KeyError:
            return label_id

    def normalize(self, answer: str) -> str:
        """Map free model text to a canonical id, or :data:`UNKNOWN`.

        Tries, in order: the whole answer as an id/name/alias (case-, width- and spacing-insensitive), then
        the one known name contained in the answer (longest names first, so "open door" beats "door").
        """
        key = _norm(answer)
        if not key:
            return UNKNOWN
        if key in self._lookup:
            return self._lookup[key]
        hits = [(len(k), v) for k, v in self._lookup.items() if k and k in key]
        if not hits:
            return UNKNOWN
        hits.sort(reverse=True)
        best_len = hits[0][0]
        best = {v for n, v in hits if n == best_len}
        return best.pop() if len(best) == 1 else UNKNOWN


class AnomalyClasses(_LabelSet):
    """A validated set of anomaly classes (ids unique)."""

    classes: tuple[AnomalyClass, ...] = Field(min_length=1)

    def _items(self) -> tuple[_Named, ...]:
        return self.classes

    @model_validator(mode="after")
    def _unique(self) -> AnomalyClasses:
        _check_unique([c.id for c in self.classes], "class id")
        return self


class ToolName(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str = Field(min_length=1)
    ja: str = Field(min_length=1)


class FactoryTask(_Named):
    """One factory task, recognised by the tool the worker holds."""

    tool: ToolName
    description: ToolName = Field(description="visual description of the tool, English and Japanese")


class TaskSet(_LabelSet):
    """A validated factory task set (ids unique)."""

    tasks: tuple[FactoryTask, ...] = Field(min_length=2)

    def _items(self) -> tuple[_Named, ...]:
        return self.tasks

    @model_validator(mode="after")
    def _unique(self) -> TaskSet:
        _check_unique([t.id for t in self.tasks], "task id")
        return self


def _check_unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {what} {i!r}")
        seen.add(i)


def _read_mapping(path: str | os.PathLike | None, default: str) -> tuple[dict, str]:
    if path is None:
        text = resources.files("tenken.configs").joinpath(default).read_text(encoding="utf-8")
        where = f"tenken/configs/{default}"
    else:
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"{p}: is a directory, not a config file")
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{p}: not a text file (expected UTF-8 YAML or JSON)") from None
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
        where = str(p)
    try:
        data = json.loads(text) if where.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        detail = " ".join(str(exc).split())  # parser messages span lines; an error is one line
        raise ConfigError(f"{where}: not valid YAML/JSON ({detail})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    return data, where


def _validate(model: type[BaseModel], data: dict, where: str):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


def load_anomaly_classes(path: str | os.PathLike | None = None) -> AnomalyClasses:
    """Load anomaly classes from a YAML/JSON file, or the default set when ``path`` is None.

    Raises:
        ConfigError: the file is missing, not YAML/JSON, or fails validation (message names the field).
    """
    data, where = _read_mapping(path, "anomaly_classes.yaml")
    return _validate(AnomalyClasses, data, where)


def load_task_set(path: str | os.PathLike | None = None) -> TaskSet:
    """Load a factory task set from a YAML/JSON file, or the shipped example when ``path`` is None.

    Raises:
        ConfigError: the file is missing, not YAML/JSON, or fails validation (message names the field).
    """
    data, where = _read_mapping(path, "factory_tasks.yaml")
    return _validate(TaskSet, data, where)
