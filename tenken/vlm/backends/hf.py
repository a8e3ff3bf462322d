"""In-process generation with ``transformers`` (a local checkpoint directory or a hub id).

``AutoProcessor`` + ``AutoModelForImageTextToText`` (``AutoModelForCausalLM`` for remote-code models that
register only there, such as PLaMo), CUDA bfloat16 when a GPU is present, else CPU float32. Requests are
rendered with the processor's own chat template and generated in batches with left padding; decoding is
greedy unless ``do_sample=True``. Remote code runs only when the user passes ``trust_remote_code=True``.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from tenken.core.errors import ModelLoadError
from tenken.vlm.backends.base import BackendError, BackendStats, Generation, VLMRequest


def _pick_device_dtype(device: str | None, dtype: str | None) -> tuple[str, Any]:
    import torch

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        dt = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    else:
        dt = getattr(torch, dtype, None)
        if not isinstance(dt, torch.dtype):
            raise ModelLoadError(f"dtype {dtype!r} is not a torch dtype (use float32, bfloat16 or float16)")
    return dev, dt


class TransformersBackend:
    """A transformers model and its processor, generating in batches.

    Args:
        path: local checkpoint directory or hub id.
        device: ``"cuda"``, ``"cuda:1"``, ``"cpu"``... (default: CUDA when available).
        dtype: torch dtype name (default: bfloat16 on CUDA, float32 on CPU).
        trust_remote_code: allow the checkpoint's own Python code (needed by PLaMo); off by default.
        batch_size: requests per ``generate`` call.
        max_new_tokens: default cap on generated tokens per request.
        do_sample: sample instead of greedy decoding.

    Raises:
        ModelLoadError: the checkpoint, its processor or its chat template cannot be loaded.
    """

    name = "transformers"

    def __init__(
        self,
        path: str,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        batch_size: int = 8,
        max_new_tokens: int = 512,
        do_sample: bool = False,
    ) -> None:
        try:
            import torch  # noqa: F401  (checked here: a core-only install fails with the fix, not deep inside)
            import transformers
        except ImportError as exc:
            hint = "in-process models need torch and transformers: pip install 'tenken[vlm]'"
            raise ModelLoadError(f"{hint} ({exc})") from None

        self.path = str(path)
        self.batch_size = max(1, int(batch_size))
        self.max_new_tokens = int(max_new_tokens)
        self.do_sample = do_sample
        self.stats = BackendStats()
        self._lock = threading.Lock()
        self.device, self.dtype = _pick_device_dtype(device, dtype)
        try:
            self.config = transformers.AutoConfig.from_pretrained(self.path, trust_remote_code=trust_remote_code)
            self.processor = _load_processor(transformers, self.path, self.config, trust_remote_code)
        except Exception as exc:  # transformers raises many types (OSError, ValueError, ImportError...)
            raise ModelLoadError(_load_message(self.path, "config or processor", exc, trust_remote_code)) from exc
        self.model = self._load_model(transformers, trust_remote_code)
        self.model.eval()
        self._prepare_tokenizer()

    @classmethod
    def from_loaded(
        cls, model: Any, processor: Any, batch_size: int = 8, max_new_tokens: int = 512, do_sample: bool = False
    ) -> TransformersBackend:
        """A backend over a model and processor already in memory (e.g. scoring a validation set during
        training), on the model's own device and dtype. Generation switches the model to eval mode; a caller
        that trains on must switch it back (``model.train()``)."""
        self = cls.__new__(cls)
        self.path = str(getattr(model, "name_or_path", "") or "in-memory")
        self.batch_size = max(1, int(batch_size))
        self.max_new_tokens = int(max_new_tokens)
        self.do_sample = do_sample
        self.stats = BackendStats()
        self._lock = threading.Lock()
        param = next(model.parameters())
        self.device, self.dtype = str(param.device), param.dtype
        self.config, self.processor, self.model = model.config, processor, model
        self._prepare_tokenizer()
        return self

    def _prepare_tokenizer(self) -> None:
        tokenizer = self.tokenizer
        if tokenizer is None:
            raise ModelLoadError(f"{self.path}: the processor has no tokenizer")
        tokenizer.padding_side = "left"  # decoder-only batched generation: pad on the left
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not (getattr(self.processor, "chat_template", None) or getattr(tokenizer, "chat_template", None)):
            raise ModelLoadError(f"{self.path}: no chat template in the processor or tokenizer (not a chat model?)")

    def _load_model(self, transformers: Any, trust_remote_code: bool) -> Any:
        errors = []
        for auto in ("AutoModelForImageTextToText", "AutoModelForCausalLM"):
            cls = getattr(transformers, auto, None)
            if cls is None:
                continue
            try:
                return cls.from_pretrained(self.path, dtype=self.dtype, trust_remote_code=trust_remote_code).to(
                    self.device
                )
            except ValueError as exc:  # config not registered with this auto class: try the next one
                errors.append(f"{auto}: {exc}")
            except Exception as exc:
                raise ModelLoadError(_load_message(self.path, "model", exc, trust_remote_code)) from exc
        raise ModelLoadError(f"{self.path}: no transformers class loads this model ({'; '.join(errors)[:500]})")

    @property
    def tokenizer(self) -> Any:
        """The processor's tokenizer."""
        return getattr(self.processor, "tokenizer", None)

    @property
    def image_processor(self) -> Any:
        """The processor's image processor (None for text-only processors)."""
        return getattr(self.processor, "image_processor", None)

    def _messages(self, req: VLMRequest) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = []
        if req.system:
            msgs.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
        content = [{"type": "image"} for _ in req.images] + [{"type": "text", "text": req.prompt}]
        msgs.append({"role": "user", "content": content})
        return msgs

    def _render(self, req: VLMRequest) -> str:
        templater = self.processor if getattr(self.processor, "chat_template", None) else self.tokenizer
        return templater.apply_chat_template(self._messages(req), tokenize=False, add_generation_prompt=True)

    def generate(self, requests: Sequence[VLMRequest]) -> list[str]:
        """Answers in request order (see :meth:`generate_detailed`)."""
        return [g.text if g is not None else None for g in self.generate_detailed(requests)]  # type: ignore[misc]

    def generate_detailed(self, requests: Sequence[VLMRequest]) -> list[Generation]:
        """Answers with token counts and finish reasons, in request order, ``batch_size`` requests per
        ``model.generate`` call (greedy by default).

        A chunk generates up to the largest ``max_new_tokens`` asked; each answer is cut to its own cap, so
        batching never changes an answer. A chunk that fails does not stop the others: :class:`BackendError`
        is raised at the end with every finished answer in ``results``.
        """
        out: list[Generation | None] = []
        errors: dict[int, str] = {}
        for start in range(0, len(requests), self.batch_size):
            chunk = list(requests[start : start + self.batch_size])
            try:
                out.extend(self._generate_chunk(chunk))
            except Exception as exc:  # a failed chunk (bad input, out of memory) must not lose the others
                self.stats.requests += len(chunk)
                self.stats.failures += len(chunk)
                out.extend([None] * len(chunk))
                errors.update({start + i: f"{type(exc).__name__}: {exc}" for i in range(len(chunk))})
        if errors:
            first = min(errors)
            texts = [g.text if g is not None else None for g in out]
            raise BackendError(
                f"{len(errors)} of {len(requests)} requests failed; first: #{first} {errors[first]}", texts, errors
            )
        return out  # type: ignore[return-value]

    def _stop_ids(self) -> set[int]:
        ids = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        found = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            found.add(int(self.tokenizer.eos_token_id))
        return found

    def _generate_chunk(self, chunk: list[VLMRequest]) -> list[Generation]:
        import torch

        t0 = time.perf_counter()
        texts = [self._render(r) for r in chunk]
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if any(r.images for r in chunk):
            if not all(r.images for r in chunk):
                # processors want images for every sample or for none: split mixed chunks
                return [a for r in chunk for a in self._generate_chunk([r])]
            kwargs["images"] = [[Image.fromarray(im) for im in r.images] for r in chunk]
        inputs = self.processor(**kwargs).to(self.device)
        for k, v in inputs.items():
            if torch.is_tensor(v) and v.is_floating_point():
                inputs[k] = v.to(self.dtype)
        max_new = max(r.max_new_tokens or self.max_new_tokens for r in chunk)
        t1 = time.perf_counter()
        with self._lock, torch.inference_mode():
            generated = self.model.generate(**inputs, max_new_tokens=max_new, do_sample=self.do_sample)
        t2 = time.perf_counter()
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist() if "attention_mask" in inputs else None
        stop = self._stop_ids()
        answers = []
        for i, (row, r) in enumerate(zip(new_tokens, chunk, strict=True)):
            cap = r.max_new_tokens or self.max_new_tokens
            ids = row[:cap].tolist()  # only the tokens this request asked for (the chunk ran to the largest cap)
            end = next((k + 1 for k, t in enumerate(ids) if t in stop), None)
            answers.append(
                Generation(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                    prompt_tokens=int(prompt_tokens[i]) if prompt_tokens else int(inputs["input_ids"].shape[1]),
                    completion_tokens=end if end is not None else len(ids),
                    finish_reason="stop" if end is not None or len(ids) < cap else "length",
                )
            )
        t3 = time.perf_counter()
        s = self.stats
        s.requests += len(chunk)
        s.completed += len(chunk)
        s.preprocess_ms += (t1 - t0) * 1000
        s.generate_ms += (t2 - t1) * 1000
        s.postprocess_ms += (t3 - t2) * 1000
        return answers


def image_only_processor_class(processor_cls: type) -> type:
    """``processor_cls`` without its video processor (same name, same behaviour on images and text).

    transformers 5 builds the video processor of Qwen-VL models with torchvision; images alone do not need
    it. This subclass lets tenken load such checkpoints for images where torchvision is not installed.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        processor_cls.__init__(
            self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
            chat_template=chat_template, **kwargs,
        )  # fmt: skip

    return type(processor_cls.__name__, (processor_cls,), {"__init__": __init__, "__module__": __name__})


def _load_processor(transformers: Any, path: str, config: Any, trust_remote_code: bool) -> Any:
    """``AutoProcessor``; for an image+video processor whose video half cannot load (torchvision missing, or
    not saved), the image half (:func:`image_only_processor_class`)."""
    try:
        return transformers.AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (ImportError, OSError) as exc:  # torchvision missing, or a checkpoint saved without a video processor
        if not any(word in str(exc).lower() for word in ("torchvision", "video processor")):
            raise
        from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

        name = PROCESSOR_MAPPING_NAMES.get(getattr(config, "model_type", ""), None)
        cls = getattr(transformers, name, None) if isinstance(name, str) else None
        if cls is None or "video_processor" not in inspect.signature(cls.__init__).parameters:
            raise
        return image_only_processor_class(cls).from_pretrained(path)


_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json")


def _load_message(path: str, what: str, exc: Exception, trust_remote_code: bool) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split(" If you were trying to load it from", 1)[0]  # hub advice, noise for a local folder
    hint = ""
    local = Path(path)
    if "trust_remote_code" in str(exc) and not trust_remote_code:
        hint = " This model ships its own code: pass trust_remote_code=True (CLI: --trust-remote-code) if you trust it."
    elif local.is_dir() and not any((local / f).exists() for f in _PROCESSOR_FILES):
        hint = (
            f" The folder has no processor or tokenizer files ({', '.join(_PROCESSOR_FILES)}): save them next to "
            "the weights with processor.save_pretrained(folder)."
        )
    elif "torchvision" in str(exc).lower():
        hint = " Install torchvision matching your torch (Qwen-VL processors need it)."
    return f"{path}: cannot load the {what} ({type(exc).__name__}: {text[:300]}).{hint}"
