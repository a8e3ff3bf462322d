"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1 (the tiny model, and flaky servers)."""

from __future__ import annotations

import base64
import io
import threading

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

from tenken.core.errors import InputError
from tenken.serve.openai_server import create_app, running_server
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.backends.openai_compat import OpenAIBackend, encode_image, normalize_base_url
from tenken.vlm.loader import load_vlm

pytestmark = pytest.mark.network


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (24, 40, 3), dtype=np.uint8)


def _ok(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def test_tiny_model_served_and_queried_through_http(tiny_llava):
    with running_server(create_app(tiny_llava, "tiny")) as url:
        client = load_vlm(f"openai:tiny@{url}", family="llava", concurrency=2, max_new_tokens=4, image_format="png")
        reqs = [VLMRequest(f"question {i}", [_img(i)]) for i in range(5)]
        answers = client.generate(reqs)
    direct = tiny_llava.generate([VLMRequest(r.prompt, r.images, max_new_tokens=4) for r in reqs])
    assert answers == direct  # PNG is lossless: the server sees the same pixels
    assert client.stats.completed == 5 and client.stats.failures == 0 and client.stats.status_counts == {"200": 5}


def test_retries_on_429_and_503_are_counted():
    calls = {"n": 0}
    lock = threading.Lock()
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n == 1:
            return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "0"})
        if n == 2:
            return JSONResponse({"error": "busy"}, status_code=503)
        return _ok(body["messages"][-1]["content"][-1]["text"].upper())

    with running_server(app) as url:
        backend = OpenAIBackend("m", url, concurrency=1, backoff=0.01, max_retries=3)
        assert backend.generate([VLMRequest("a"), VLMRequest("b")]) == ["A", "B"]
    assert backend.stats.retries == 2
    assert backend.stats.status_counts == {"429": 1, "503": 1, "200": 2}
    assert backend.stats.failures == 0


def test_failures_are_reported_with_the_finished_answers():
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        text = (await request.json())["messages"][-1]["content"][-1]["text"]
        if text == "fail":
            return JSONResponse({"error": "boom"}, status_code=500)
        return _ok(text)

    with running_server(app) as url:
        backend = OpenAIBackend("m", url, concurrency=3, backoff=0.01, max_retries=2)
        with pytest.raises(BackendError, match="1 of 3 requests") as info:
            backend.generate([VLMRequest("x"), VLMRequest("fail"), VLMRequest("y")])
    assert info.value.results == ["x", None, "y"]
    assert list(info.value.errors) == [1]
    assert backend.stats.failures == 1 and backend.stats.retries == 2 and backend.stats.completed == 2


def test_connection_refused_is_retried_then_reported():
    backend = OpenAIBackend("m", "http://127.0.0.1:9/v1", backoff=0.01, max_retries=1, timeout=2)
    with pytest.raises(BackendError) as info:
        backend.generate([VLMRequest("x")])
    assert backend.stats.retries == 1 and backend.stats.status_counts.get("transport") == 2
    assert "cannot connect to http://127.0.0.1:9/v1 (is the server running?)" in str(info.value)


def test_wrong_base_path_404_hints_at_v1(tiny_llava):
    with running_server(create_app(tiny_llava, "tiny")) as url:
        backend = OpenAIBackend("tiny", url.removesuffix("/v1") + "/v2", max_retries=0)
        with pytest.raises(BackendError, match=r"HTTP 404 from .*/v2/chat/completions.*/v1"):
            backend.generate([VLMRequest("x")])


def test_payload_api_key_and_urls(monkeypatch):
    monkeypatch.setenv("TENKEN_API_KEY", "sekrit")
    b = OpenAIBackend("model-x", "http://127.0.0.1:8000/v1/", image_format="png")
    assert b.api_key == "sekrit" and b.base_url == "http://127.0.0.1:8000/v1"
    img = _img(7)
    body = b.payload(VLMRequest("what?", [img], system="be brief", max_new_tokens=7))
    assert body["model"] == "model-x" and body["max_tokens"] == 7 and body["temperature"] == 0.0
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    url = body["messages"][1]["content"][0]["image_url"]["url"]
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, img)  # PNG: lossless
    assert encode_image(img).startswith("data:image/jpeg;base64,")
    assert normalize_base_url("http://h:1") == "http://h:1/v1"
    with pytest.raises(InputError):
        normalize_base_url("ftp://h")
