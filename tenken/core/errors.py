"""Typed errors raised by tenken.

Every error a user can cause (a bad file, a malformed model answer, an alignment that cannot be trusted)
is a :class:`TenkenError`. The CLI prints these without a traceback (``--debug`` shows it); batch runners
record them for the failing item and go on with the next one.
"""

from __future__ import annotations

import importlib
from typing import Any


class TenkenError(Exception):
    """Base class of every error tenken raises on purpose."""


class ImageLoadError(TenkenError):
    """An image could not be read: missing, unreadable, corrupt, truncated, too large or unsupported."""


class AlignmentError(TenkenError):
    """A pair of images could not be aligned and the caller asked for an exception instead of ``ok=False``."""


class ModelOutputError(TenkenError):
    """A model's answer could not be turned into the structure that was asked for."""


class ModelLoadError(TenkenError):
    """A model or its processor could not be loaded from the given path, hub id or server spec."""


class ConfigError(TenkenError):
    """A configuration file (classes, task sets, manifests) is missing, malformed or inconsistent."""


class InputError(TenkenError):
    """A user-supplied input other than an image (a path, a manifest line, an option) is invalid."""


def describe_json_error(exc: ValueError) -> str:
    """One readable phrase for a JSON line that failed to parse, e.g. ``unterminated string starting at
    column 8`` (the decoder's message ends in "at" for some errors, which a naive "... at column N" doubled)."""
    msg = getattr(exc, "msg", str(exc)).removesuffix(" at").removesuffix(":")
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if col is not None else msg


class MissingDependencyError(TenkenError):
    """An optional package a feature needs is not installed; the message names the extra that provides it."""


def require_module(name: str, extra: str, purpose: str) -> Any:
    """Import and return module ``name``, or raise :class:`MissingDependencyError` saying
    ``pip install 'tenken[extra]'`` (a core-only install otherwise ended in a ModuleNotFoundError traceback).
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs {exc.name or name}, which is not installed: pip install 'tenken[{extra}]'"
        ) from None
