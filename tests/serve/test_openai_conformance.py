"""The OpenAI-compatible endpoint against the official ``openai`` client, over a tiny random-weight VLM loaded
through ``tenken.load_vlm`` (the path a user's checkpoint takes): real token counts, ``finish_reason``
"length" when ``max_tokens`` cut the answer, streaming as server-sent events."""

from __future__ import annotations

import numpy as np
import pytest

openai = pytest.importorskip("openai", reason="the openai client is not installed (tenken[dev])")

from tenken.serve.openai_server import create_app, running_server  # noqa: E402
from tenken.vlm.backends.openai_compat import encode_image  # noqa: E402
from tenken.vlm.loader import load_vlm  # noqa: E402

pytestmark = [pytest.mark.network]


@pytest.fixture(scope="module")
def client(tiny_llava_path):
    vlm = load_vlm(str(tiny_llava_path), max_new_tokens=6)
    with running_server(create_app(vlm, "tiny", max_batch=4)) as url:
        yield openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


def _messages() -> list[dict]:
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    return [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": encode_image(img, "png")}},
            {"type": "text", "text": "What is in the picture?"},
        ]},
    ]  # fmt: skip


def test_usage_counts_real_tokens(client) -> None:
    short = client.chat.completions.create(model="tiny", messages=_messages(), max_tokens=3)
    longer = client.chat.completions.create(model="tiny", messages=_messages(), max_tokens=5)
    for r in (short, longer):
        u = r.usage
        assert u.prompt_tokens > 10 and u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert short.usage.prompt_tokens == longer.usage.prompt_tokens  # same prompt, same count
    assert 1 <= short.usage.completion_tokens <= 3 and short.usage.completion_tokens <= longer.usage.completion_tokens


def test_finish_reason_is_length_when_max_tokens_cut_the_answer(client) -> None:
    r = client.chat.completions.create(model="tiny", messages=_messages(), max_tokens=2)
    choice = r.choices[0]
    # greedy decoding of this seeded checkpoint runs past 2 tokens: the cap is what stopped it
    assert choice.finish_reason == "length" and r.usage.completion_tokens == 2


def test_streaming_sends_the_same_answer_as_events(client) -> None:
    whole = client.chat.completions.create(model="tiny", messages=_messages(), max_tokens=6)
    chunks = list(
        client.chat.completions.create(
            model="tiny", messages=_messages(), max_tokens=6, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == [whole.choices[0].finish_reason]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == whole.usage.total_tokens
    assert all(c.object == "chat.completion.chunk" for c in chunks)
