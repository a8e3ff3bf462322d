"""Registries by decorator: one file adds a benchmark task, a model family, a data recipe or a detector.

    >>> from tenken.core.registry import Registry
    >>> DETECTORS: Registry[type] = Registry("detector")
    >>> @DETECTORS.register("classical")
    ... class ChangeDetector: ...
    >>> DETECTORS.get("classical")
    <class 'tenken.core.registry.ChangeDetector'>

A registry knows where its entries live (``modules``): looking a name up imports those modules first, so an
entry registers itself when its module is imported and nothing else has to list it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from tenken.core.errors import InputError

V = TypeVar("V")


class Registry(Generic[V]):
    """A named set of entries of one kind (``kind`` is used in error messages, e.g. ``"benchmark task"``).

    Args:
        kind: what the entries are, for messages.
        modules: modules imported on first lookup, where the built-in entries register themselves.
    """

    def __init__(self, kind: str, modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._modules = modules
        self._loaded = not modules
        self._entries: dict[str, V] = {}

    def register(self, name: str, *aliases: str) -> Callable[[V], V]:
        """Decorator: register the decorated object under ``name`` (and ``aliases``).

        Raises:
            ValueError: the name is already taken by another object (two files claiming one name is a bug).
        """

        def add(obj: V) -> V:
            for n in (name, *aliases):
                if n in self._entries and self._entries[n] is not obj:
                    raise ValueError(f"{self.kind} {n!r} is registered twice")
                self._entries[n] = obj
            return obj

        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def get(self, name: str) -> V:
        """The entry called ``name``.

        Raises:
            InputError: no such entry (the message lists the known names).
        """
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """Registered names (aliases included), in registration order."""
        self._load()
        return list(self._entries)

    def items(self) -> list[tuple[str, V]]:
        """``(name, entry)`` pairs, aliases included, in registration order."""
        self._load()
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)
