"""``load_vlm(spec)``: a local checkpoint, a hub id, or ``openai:MODEL@BASE_URL``.

>>> vlm = tenken.load_vlm("Qwen/Qwen2.5-VL-7B-Instruct")                                  # in process
>>> vlm = tenken.load_vlm("openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1",
...                       family="qwen2.5-vl")                                           # a vLLM server
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tenken.core.errors import InputError, ModelLoadError
from tenken.vlm.families import BOX_FORMATS, Family, canonical_family, detect_family, get_family
from tenken.vlm.model import VLM

_OPENAI_SPEC = re.compile(r"^openai:(?P<model>.+?)@(?P<url>https?://\S+)$")
_FAMILY_OPTIONS = ("box_format", "factor", "min_pixels", "max_pixels")
_HF_OPTIONS = ("device", "dtype", "trust_remote_code", "batch_size", "max_new_tokens", "do_sample")
_OPENAI_OPTIONS = (
    "api_key", "concurrency", "timeout", "max_retries", "backoff", "max_backoff", "max_new_tokens",
    "image_format", "temperature",
)  # fmt: skip


def parse_openai_spec(spec: str) -> tuple[str, str] | None:
    """``"openai:MODEL@http://host:8000/v1"`` -> ``(MODEL, URL)``; None for other specs."""
    if not spec.startswith("openai:"):
        return None
    m = _OPENAI_SPEC.match(spec.strip())
    if not m:
        raise InputError(f"model spec {spec!r}: expected openai:MODEL@http(s)://HOST:PORT/v1")
    return m.group("model"), m.group("url")


def _split(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: options[k] for k in names if options.get(k) is not None}


def load_vlm(spec: str, family: str | None = None, **options: Any) -> VLM:
    """Load a vision-language model.

    Args:
        spec: a local checkpoint directory, a hub id (``Qwen/Qwen2.5-VL-7B-Instruct``), or
            ``openai:MODEL@BASE_URL`` for an OpenAI-compatible server.
        family: ``qwen2.5-vl``, ``qwen3-vl``, ``qwen2-vl``, ``plamo`` or ``llava``. Detected from the model
            config in process (``model_type``); required over a server, which does not expose it.
        **options: backend options (transformers: ``device``, ``dtype``, ``trust_remote_code``,
            ``batch_size``, ``max_new_tokens``, ``do_sample``; openai: ``api_key``, ``concurrency``,
            ``timeout``, ``max_retries``, ``backoff``, ``max_new_tokens``, ``image_format``, ``temperature``)
            and family options (``box_format``; Qwen2.5-VL ``factor``, ``min_pixels``, ``max_pixels``, read
            from the processor in process).

    Raises:
        InputError: a malformed spec, an unknown family or option, or a server spec without a family.
        ModelLoadError: the checkpoint cannot be loaded.
    """
    known = set(_FAMILY_OPTIONS) | set(_HF_OPTIONS) | set(_OPENAI_OPTIONS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown load_vlm option(s): {', '.join(unknown)}")
    # checked before anything loads: a checkpoint takes seconds to minutes, a typo should fail at once
    if family is not None:
        canonical_family(family)
    box_format = options.get("box_format")
    if box_format is not None and box_format not in BOX_FORMATS:
        raise InputError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
    server = parse_openai_spec(spec)
    if server is not None:
        from tenken.vlm.backends.openai_compat import OpenAIBackend

        if family is None:
            raise InputError(
                f"{spec}: tenken cannot see a server's model config; name the family "
                "(family='qwen2.5-vl' / --family qwen2.5-vl)"
            )
        model, url = server
        backend = OpenAIBackend(model, url, **_split(options, _OPENAI_OPTIONS))
        return VLM(backend, get_family(family, **_split(options, _FAMILY_OPTIONS)), model)

    from tenken.vlm.backends.hf import TransformersBackend

    _check_local_path(str(spec))

    backend_hf = TransformersBackend(str(spec), **_split(options, _HF_OPTIONS))
    fam = checkpoint_family(backend_hf.config, backend_hf.image_processor, family, path=str(spec), **options)
    return VLM(backend_hf, fam, str(spec))


FAMILY_FILE = "tenken_family.json"
"""Written into a checkpoint tenken trained: ``{"family", "box_format"}`` it was trained with."""


def saved_family(path: str | Path | None) -> dict[str, Any]:
    """``{"family", "box_format"}`` from a local checkpoint's :data:`FAMILY_FILE`, or ``{}``."""
    if path is None or not (file := Path(path) / FAMILY_FILE).is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{file}: unreadable ({exc})") from None
    return {k: data[k] for k in ("family", "box_format") if isinstance(data, dict) and data.get(k)}


def checkpoint_family(
    config: Any, image_processor: Any, family: str | None = None, path: str | Path | None = None, **options: Any
) -> Family:
    """The family of an in-process checkpoint: named, else the one tenken trained it as (:data:`FAMILY_FILE`
    in ``path``, with its ``box_format``), else detected from ``config.model_type``; for Qwen2.5-VL with the
    processor's own ``factor``/``min_pixels``/``max_pixels`` (what its boxes are relative to).

    Training uses it too, so targets are written in the frame inference reads them in.
    """
    saved = saved_family(path)
    family = family or saved.get("family")
    if options.get("box_format") is None and "box_format" in saved and family == saved.get("family"):
        options = {**options, "box_format": saved["box_format"]}
    name = canonical_family(family) if family else detect_family(getattr(config, "model_type", None))
    fam_opts = _processor_resize_options(image_processor) if name == "qwen2.5-vl" else {}
    fam_opts.update(_split(options, _FAMILY_OPTIONS))
    return get_family(name, **fam_opts)


def _check_local_path(spec: str) -> None:
    """A spec written as a path (``/…``, ``./…``, ``~/…``, or more than one ``/``) must be a directory; a hub id
    is ``org/name``. Without this check transformers answers a missing folder with a hub-id error."""
    path = Path(spec).expanduser()
    looks_local = spec.startswith(("/", ".", "~")) or "\\" in spec or spec.count("/") > 1
    if path.is_dir() or not (looks_local or path.exists()):
        return
    if path.exists():
        raise ModelLoadError(f"{spec}: is a file; --model takes the checkpoint's directory")
    raise ModelLoadError(f"{spec}: model directory not found")


def _processor_resize_options(image_processor: Any) -> dict[str, int]:
    """``factor``, ``min_pixels``, ``max_pixels`` of a Qwen-VL image processor (what ``smart_resize`` uses)."""
    if image_processor is None:
        raise ModelLoadError("a Qwen2.5-VL checkpoint without an image processor")
    size = getattr(image_processor, "size", None) or {}
    get = size.get if isinstance(size, dict) else lambda k, d=None: getattr(size, k, d)
    min_pixels = getattr(image_processor, "min_pixels", None) or get("shortest_edge")
    max_pixels = getattr(image_processor, "max_pixels", None) or get("longest_edge")
    patch = getattr(image_processor, "patch_size", None) or 14
    merge = getattr(image_processor, "merge_size", None) or 2
    out = {"factor": int(patch) * int(merge)}
    if min_pixels:
        out["min_pixels"] = int(min_pixels)
    if max_pixels:
        out["max_pixels"] = int(max_pixels)
    return out
