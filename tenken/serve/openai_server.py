"""An OpenAI-compatible chat server over any tenken VLM backend (``/v1/chat/completions``, ``/v1/models``).

    >>> from tenken.serve.openai_server import create_app
    >>> app = create_app(tenken.load_vlm("path/to/checkpoint"))
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Images are accepted as base64 ``data:`` URLs only (the server never fetches a URL it is given). Requests that
arrive together are grouped by a :class:`MicroBatcher` into one batched ``generate`` call (one forward pass
for the in-process transformers backend); generation runs in a worker thread, off the event loop.

Conformance with the OpenAI chat-completions API (checked with the official ``openai`` client):
``usage`` counts the prompt's and the answer's tokens when the backend reports them (the in-process
transformers backend does, through ``generate_detailed``; a backend that only returns text reports 0);
``finish_reason`` is ``"length"`` when ``max_tokens`` cut the answer, else ``"stop"``; ``stream=True`` answers
with server-sent events (``chat.completion.chunk`` objects, then ``data: [DONE]``; with
``stream_options.include_usage`` a last chunk carries ``usage``). The stream starts once the answer is
generated (the batch it rides in is one forward pass), so it is conformant but not token-by-token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tenken.core.errors import ImageLoadError, TenkenError
from tenken.core.images import load_image
from tenken.vlm.backends.base import Backend, BackendError, Generation, VLMRequest

MAX_TOKENS_LIMIT = 8192
STREAM_CHUNK_CHARS = 16
"""Characters of the answer per streamed ``delta``."""


class RequestError(TenkenError):
    """A chat-completions request the server cannot serve (answered with HTTP 400)."""


def _decode_data_url(url: str) -> Any:
    if not url.startswith("data:") or ";base64," not in url:
        raise RequestError("image_url must be a base64 data URL (data:image/...;base64,...); URLs are not fetched")
    try:
        raw = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("image_url: invalid base64 data") from None
    try:
        return load_image(raw)
    except ImageLoadError as exc:
        raise RequestError(f"image_url: {exc}") from None


def request_from_body(body: dict[str, Any]) -> VLMRequest:
    """A chat-completions JSON body -> :class:`VLMRequest` (system text, the user turns' images and text).

    Raises:
        RequestError: no messages, unsupported content parts, or a bad image.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    system: list[str] = []
    texts: list[str] = []
    images = []
    for m in messages:
        if not isinstance(m, dict):
            raise RequestError("each message must be an object")
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user"):
            raise RequestError(f"message role {role!r} is not supported (one request = system + user turns)")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise RequestError(f"message content must be a string or a list of parts, got {type(content).__name__}")
        for p in parts:
            kind = p.get("type") if isinstance(p, dict) else None
            if kind == "text":
                (system if role == "system" else texts).append(str(p.get("text", "")))
            elif kind == "image_url":
                iu = p.get("image_url")
                images.append(_decode_data_url(iu.get("url", "") if isinstance(iu, dict) else str(iu or "")))
            else:
                raise RequestError(f"unsupported content part type {kind!r} (use text or image_url)")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or not 0 < max_tokens <= MAX_TOKENS_LIMIT):
        raise RequestError(f"max_tokens must be an integer in 1..{MAX_TOKENS_LIMIT}")
    return VLMRequest("\n".join(texts), images, "\n".join(system) or None, max_tokens)


def generate_detailed(backend: Any, requests: list[VLMRequest]) -> list[Generation]:
    """``backend``'s answers with token counts: its (or its ``VLM``'s backend's) ``generate_detailed`` when it
    has one, else its ``generate`` with the counts left at 0 and ``finish_reason="stop"``.

    Raises:
        BackendError: as the backend raised it (``results`` are the finished answers' texts).
    """
    inner = backend if hasattr(backend, "generate_detailed") else getattr(backend, "backend", backend)
    if hasattr(inner, "generate_detailed"):
        return list(inner.generate_detailed(requests))
    return [Generation(text, 0, 0, "stop") for text in backend.generate(requests)]


class MicroBatcher:
    """Groups requests that arrive together into one ``generate`` call (a batched forward pass in process).

    The first waiting request opens a batch; it closes after ``max_wait_ms`` or at ``max_batch`` requests.
    Batches run one after another in a worker thread. A failed item fails only its own request.
    """

    def __init__(self, backend: Any, max_batch: int = 8, max_wait_ms: float = 5.0) -> None:
        self.backend = backend
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, req: VLMRequest) -> Generation:
        """The answer to ``req`` with its token counts (raises what the backend raised for it)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:  # first call, or an app re-run on a new event loop
            self._queue, self._loop, self._worker = asyncio.Queue(), loop, None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((req, fut))
        return await fut

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            self.batch_sizes.append(len(batch))
            await self._serve(batch)

    async def _serve(self, batch: list[tuple[VLMRequest, asyncio.Future]]) -> None:
        try:
            answers: list[Any] = await to_thread.run_sync(generate_detailed, self.backend, [r for r, _ in batch])
            failures: dict[int, str] = {}
        except BackendError as exc:
            answers = [Generation(t, 0, 0, "stop") if t is not None else None for t in exc.results]
            failures = exc.errors
        except Exception as exc:  # the whole batch failed
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for i, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if i in failures or i >= len(answers) or answers[i] is None:
                fut.set_exception(BackendError(failures.get(i, "no answer"), [None], {0: failures.get(i, "")}))
            else:
                fut.set_result(answers[i])


def create_app(
    backend: Backend | Any, model_name: str | None = None, max_batch: int = 8, max_wait_ms: float = 5.0
) -> FastAPI:
    """A FastAPI app serving ``backend`` (a :class:`~tenken.vlm.backends.base.Backend` or a ``VLM``).

    Args:
        backend: anything with ``generate(requests) -> list[str]``.
        model_name: the id listed by ``/v1/models`` and echoed in answers (default: the VLM's name).
        max_batch: requests arriving together are answered by one ``generate`` call of up to this many
            (1 turns batching off: each request is its own call, run concurrently).
        max_wait_ms: how long the first request of a batch waits for company.
    """
    name = model_name or getattr(backend, "name", None) or "tenken"
    app = FastAPI(title="tenken OpenAI-compatible server")
    batcher = MicroBatcher(backend, max_batch, max_wait_ms) if max_batch > 1 else None
    app.state.batcher = batcher

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "tenken"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "body is not valid JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object", "invalid_request_error")
        try:
            req = request_from_body(body)
        except RequestError as exc:
            return error(400, str(exc), "invalid_request_error")
        try:
            if batcher is not None:
                answer = await batcher.submit(req)
            else:
                answer = (await to_thread.run_sync(generate_detailed, backend, [req]))[0]
        except TenkenError as exc:
            return error(500, str(exc), "server_error")
        model = str(body.get("model") or name)
        if body.get("stream"):
            options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
            events = sse_events(answer, model, bool(options.get("include_usage")))
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": usage(answer),
        }

    return app


def usage(answer: Generation) -> dict[str, int]:
    """The ``usage`` object of an answer."""
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }


def sse_events(answer: Generation, model: str, include_usage: bool) -> Iterator[str]:
    """The server-sent events of a streamed answer: a role delta, content deltas of
    :data:`STREAM_CHUNK_CHARS` characters, the finish reason, optionally a usage chunk, then ``[DONE]``."""
    import json

    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else [],
               **extra}  # fmt: skip
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for i in range(0, len(answer.text), STREAM_CHUNK_CHARS):
        yield chunk({"content": answer.text[i : i + STREAM_CHUNK_CHARS]})
    yield chunk({}, answer.finish_reason)
    if include_usage:
        yield chunk(None, usage=usage(answer))  # type: ignore[arg-type]
    yield "data: [DONE]\n\n"


@contextlib.contextmanager
def running_server(app: Any, port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a background thread; yields its base URL (``.../v1``).

    ``port=0`` picks a free port. For tests, benchmarks and local use: it binds the loopback address only.
    The server is shut down when the block exits.
    """
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", limit_concurrency=1000)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the local server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
