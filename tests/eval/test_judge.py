"""The judge against a real OpenAI-compatible HTTP server started on loopback in the test."""

import threading
import time

import pytest

from tenken.core.errors import InputError
from tenken.eval.judge import LLMJudge, parse_score, summarize

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def server():
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.requests.append(body)
        prompt = body["messages"][-1]["content"]
        if "BOOM" in prompt:
            return JSONResponse({"error": "server failure"}, status_code=500)
        if "Prediction: 黒と茶色" in prompt:
            reply = "Score: 5"
        elif "Prediction: 赤" in prompt:
            reply = "1 (wrong colour)"
        else:
            reply = "I cannot grade this."
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not (srv.started and srv.servers):
        if time.time() > deadline:
            pytest.fail("local judge server did not start")
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield app, f"http://127.0.0.1:{port}/v1"
    srv.should_exit = True
    thread.join(timeout=10)


def test_scores_requests_and_cache(server, tmp_path):
    app, url = server
    app.state.requests.clear()
    judge = LLMJudge.from_spec(f"openai:judge-model@{url}", cache_dir=tmp_path)
    q = "スーツケースの色は何色ですか？"
    questions, answers = [q] * 4, ["黒と茶色です。"] * 4
    preds = ["黒と茶色", "赤", "", "わかりません"]
    results = judge.judge_many(questions, answers, preds)
    assert [r.score for r in results] == [5, 1, 0, 0]
    assert len(app.state.requests) == 3  # the empty prediction is never sent
    body = app.state.requests[0]
    assert body["model"] == "judge-model" and body["temperature"] == 0 and body["seed"] == 0
    assert "黒と茶色です。" in body["messages"][-1]["content"]
    summary = summarize(results, judge.model)
    assert summary["llm_judge"] == pytest.approx(6 / 4)
    assert summary["invalid"] == 1 and summary["failed"] == 0

    # a rerun with a new judge object over the same cache costs nothing
    again = LLMJudge.from_spec(f"openai:judge-model@{url}", cache_dir=tmp_path)
    results2 = again.judge_many(questions, answers, preds)
    assert [r.score for r in results2] == [5, 1, 0, 0]
    assert len(app.state.requests) == 3 and again.requests_made == 0
    assert sum(r.cached for r in results2) == 3

    # another judge model is another cache key
    other = LLMJudge.from_spec(f"openai:other-model@{url}", cache_dir=tmp_path)
    other.judge(q, answers[0], "黒と茶色")
    assert len(app.state.requests) == 4


def test_server_errors_are_reported_not_cached(server, tmp_path):
    _, url = server
    judge = LLMJudge("judge-model", url, cache_dir=tmp_path, retries=1)
    r = judge.judge("q", "a", "BOOM")
    assert r.score is None and "500" in r.error
    assert judge.requests_made == 2  # one retry on HTTP 5xx
    assert not list(tmp_path.glob("*.json"))
    assert summarize([r], "judge-model")["failed"] == 1


def test_first_digit_rule():
    assert parse_score("4") == 4
    assert parse_score("The answer deserves 3 of 5") == 3
    assert parse_score("no digit") == 0
    assert parse_score("0") == 0 and parse_score("9/10") == 0


def test_bad_spec_is_a_clear_error():
    with pytest.raises(InputError, match="openai:MODEL@BASE_URL"):
        LLMJudge.from_spec("gpt-4o")
    with pytest.raises(InputError, match="http"):
        LLMJudge.from_spec("openai:gpt-4o@localhost:8000")
