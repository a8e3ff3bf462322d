"""Any OpenAI-compatible ``/v1/chat/completions`` server: vLLM, SGLang, llama.cpp ``llama-server``, Ollama ``/v1``.

Images travel as base64 data URLs (JPEG by default, PNG on request). Requests run concurrently with async
httpx, at most ``concurrency`` in flight, so a large batch keeps a multi-GPU server busy. A 429, a 5xx, a
timeout or a dropped connection is retried with exponential backoff (honouring ``Retry-After``); every retry
and failure is counted in :attr:`OpenAIBackend.stats`, and a batch with failed items raises
:class:`~tenken.vlm.backends.base.BackendError` carrying the answers that did finish.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import importlib.util
import io
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from tenken.core.errors import InputError, ModelLoadError
from tenken.vlm.backends.base import BackendError, BackendStats, VLMRequest

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
API_KEY_ENV = ("TENKEN_API_KEY", "OPENAI_API_KEY")


def encode_image(image: np.ndarray, fmt: str = "jpeg", quality: int = 95) -> str:
    """An RGB uint8 array as a ``data:image/...;base64,`` URL."""
    buf = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "png":
        pil.save(buf, format="PNG")
    else:
        pil.convert("RGB").save(buf, format="JPEG", quality=quality)
    return f"data:image/{fmt};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def normalize_base_url(base_url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a URL with a path is kept (no trailing slash)."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"base URL must start with http:// or https://, got {base_url!r}")
    rest = url.split("://", 1)[1]
    return url if "/" in rest else url + "/v1"


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIBackend:
    """Chat completions over HTTP.

    Args:
        model: the model name the server knows (``"Qwen/Qwen2.5-VL-7B-Instruct"``).
        base_url: the server's API root, e.g. ``http://localhost:8000/v1``.
        api_key: bearer token; default from ``TENKEN_API_KEY`` or ``OPENAI_API_KEY`` (none sent when unset).
        concurrency: requests in flight at once.
        timeout: seconds per HTTP request.
        max_retries: retries per request after the first try (on 429, 5xx, timeouts, connection errors).
        backoff: first retry delay in seconds; doubles each retry (capped at ``max_backoff``).
        max_new_tokens: default ``max_tokens`` per request.
        image_format: ``"jpeg"`` (smaller) or ``"png"`` (lossless).
        temperature: 0 for greedy-like answers.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_new_tokens: int = 512,
        image_format: str = "jpeg",
        temperature: float = 0.0,
    ) -> None:
        if importlib.util.find_spec("httpx") is None:  # imported where used; checked here, before any request
            raise ModelLoadError("OpenAI-compatible servers need httpx: pip install 'tenken[vlm]'")
        if image_format not in ("jpeg", "png"):
            raise InputError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
        self.model = model
        self.base_url = normalize_base_url(base_url)
        self.api_key = api_key or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_new_tokens = int(max_new_tokens)
        self.image_format = image_format
        self.temperature = float(temperature)
        self.stats = BackendStats()

    def payload(self, req: VLMRequest) -> dict[str, Any]:
        """The JSON body of one chat-completions request."""
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": encode_image(im, self.image_format)}} for im in req.images
        ]
        content.append({"type": "text", "text": req.prompt})
        messages.append({"role": "user", "content": content})
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": req.max_new_tokens or self.max_new_tokens,
            "temperature": self.temperature,
        }

    def generate(self, requests: Sequence[VLMRequest]) -> list[str]:
        """Answers in request order; raises :class:`BackendError` (with the finished answers) if any failed."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._generate(list(requests)))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from inside an event loop
            return pool.submit(asyncio.run, self._generate(list(requests))).result()

    async def _generate(self, requests: list[VLMRequest]) -> list[str]:
        import httpx

        t0 = time.perf_counter()
        bodies = [self.payload(r) for r in requests]
        self.stats.preprocess_ms += (time.perf_counter() - t0) * 1000
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        sem = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        results: list[str | None] = [None] * len(requests)
        errors: dict[int, str] = {}
        t1 = time.perf_counter()
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers, limits=limits) as client:

            async def one(i: int) -> None:
                async with sem:
                    try:
                        results[i] = await self._post_with_retries(client, bodies[i])
                        self.stats.completed += 1
                    except BackendError as exc:  # our own message says what happened
                        errors[i] = str(exc)
                        self.stats.failures += 1
                    except Exception as exc:  # recorded per item, never dropped
                        errors[i] = f"{type(exc).__name__}: {exc}"
                        self.stats.failures += 1

            self.stats.requests += len(requests)
            await asyncio.gather(*(one(i) for i in range(len(requests))))
        self.stats.generate_ms += (time.perf_counter() - t1) * 1000
        if errors:
            first = next(iter(errors.items()))
            raise BackendError(
                f"{len(errors)} of {len(requests)} requests to {self.base_url} failed "
                f"(after up to {self.max_retries} retries each); first: #{first[0]} {first[1]}",
                results,
                errors,
            )
        return [r or "" for r in results]

    async def _post_with_retries(self, client: Any, body: dict[str, Any]) -> str:
        attempt = 0
        while True:
            try:
                return await self._post(client, body)
            except _Retryable as exc:
                if attempt >= self.max_retries:
                    raise BackendError(f"gave up after {attempt + 1} tries: {exc}", [], {}) from None
                delay = min(self.max_backoff, self.backoff * (2**attempt))
                if exc.retry_after is not None:
                    delay = min(self.max_backoff, max(delay, exc.retry_after))
                attempt += 1
                self.stats.retries += 1
                await asyncio.sleep(delay)

    async def _post(self, client: Any, body: dict[str, Any]) -> str:
        import httpx

        try:
            resp = await client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.ConnectError as exc:
            self._count("transport")
            raise _Retryable(f"cannot connect to {self.base_url} (is the server running?): {exc}") from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self._count("transport")
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        self._count(str(resp.status_code))
        if resp.status_code in RETRY_STATUS:
            retry_after = resp.headers.get("retry-after")
            try:
                after = float(retry_after) if retry_after else None
            except ValueError:
                after = None
            raise _Retryable(f"HTTP {resp.status_code}: {resp.text[:200]}", after)
        if resp.status_code == 404:
            raise BackendError(
                f"HTTP 404 from {self.base_url}/chat/completions: {resp.text[:200]} "
                "(check the base URL: OpenAI-compatible servers usually serve under /v1)",
                [],
                {},
            )
        if resp.status_code != 200:
            raise BackendError(f"HTTP {resp.status_code}: {resp.text[:300]}", [], {})
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BackendError(f"not a chat-completions response: {resp.text[:300]}", [], {}) from None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return (content or "").strip()

    def _count(self, key: str) -> None:
        self.stats.status_counts[key] = self.stats.status_counts.get(key, 0) + 1
