"""The OpenAI-compatible server app: request parsing and error answers."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tenken.serve.openai_server import RequestError, create_app, request_from_body
from tenken.vlm.backends.openai_compat import encode_image
from tests.vlm.fakes import ScriptedBackend


def _body(content, **extra):
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_request_from_body_reads_text_images_and_system():
    img = np.zeros((8, 12, 3), dtype=np.uint8)
    body = _body(
        [{"type": "image_url", "image_url": {"url": encode_image(img, "png")}}, {"type": "text", "text": "q"}],
        max_tokens=9,
    )
    body["messages"].insert(0, {"role": "system", "content": "sys"})
    req = request_from_body(body)
    assert req.prompt == "q" and req.system == "sys" and req.max_new_tokens == 9
    assert len(req.images) == 1 and req.images[0].shape == (8, 12, 3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "non-empty"),
        (_body([{"type": "image_url", "image_url": {"url": "http://example.com/a.jpg"}}]), "not fetched"),
        (_body([{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!"}}]), "base64"),
        (_body([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]), "image_url"),
        (_body([{"type": "audio"}]), "unsupported"),
        (_body("q", max_tokens=-1), "max_tokens"),
        ({"messages": [{"role": "assistant", "content": "earlier answer"}]}, "not supported"),
    ],
)
def test_bad_requests(body, message):
    with pytest.raises(RequestError, match=message):
        request_from_body(body)


def test_app_answers_and_rejects():
    backend = ScriptedBackend(lambda r: f"echo {r.prompt}")
    client = TestClient(create_app(backend, "tiny"))
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"
    ok = client.post("/v1/chat/completions", json=_body("hello"))
    assert ok.status_code == 200
    assert ok.json()["choices"][0]["message"] == {"role": "assistant", "content": "echo hello"}
    bad = client.post("/v1/chat/completions", json=_body([{"type": "video"}]))
    assert bad.status_code == 400 and "unsupported" in bad.json()["error"]["message"]
    streamed = client.post("/v1/chat/completions", json=_body("x", stream=True))
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert client.post("/v1/chat/completions", content=b"{not json").status_code == 400


def test_concurrent_requests_are_batched_and_failures_stay_per_item():
    from tenken.serve.openai_server import running_server
    from tenken.vlm.backends.base import BackendError, VLMRequest
    from tenken.vlm.backends.openai_compat import OpenAIBackend

    class Recording(ScriptedBackend):
        def generate(self, requests):
            out = super().generate(requests)
            if any(r.prompt == "bad" for r in requests):
                bad = {i: "refused" for i, r in enumerate(requests) if r.prompt == "bad"}
                raise BackendError("some failed", [None if i in bad else a for i, a in enumerate(out)], bad)
            return out

    backend = Recording(lambda r: r.prompt.upper())
    app = create_app(backend, "rec", max_batch=4, max_wait_ms=200)
    with running_server(app) as url:
        client = OpenAIBackend("rec", url, concurrency=4, max_retries=0)
        assert client.generate([VLMRequest(p) for p in "abcd"]) == list("ABCD")
        assert max(app.state.batcher.batch_sizes) > 1 and sum(app.state.batcher.batch_sizes) == 4
        with pytest.raises(BackendError) as info:
            client.generate([VLMRequest("x"), VLMRequest("bad")])
    assert info.value.results == ["X", None]
