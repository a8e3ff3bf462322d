"""LLM-as-a-judge over any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, OpenAI, ...).

The judge reads (question, reference answer, prediction) and answers with a correctness score on a 1–5
scale. Rules:

- the score is the first digit in the reply; a reply without a digit 1–5 first scores 0 and is counted in
  ``invalid`` (never silently dropped);
- an empty prediction scores 0 without asking the judge;
- requests use ``temperature=0`` and ``seed=0``;
- every reply is cached on disk per (judge model, prompt): a rerun over the same data costs no request.

Spec strings: ``openai:MODEL@BASE_URL``, e.g. ``openai:qwen2.5-72b@http://127.0.0.1:8000/v1`` (``BASE_URL``
is what OpenAI clients call ``base_url``: requests go to ``BASE_URL/chat/completions``). The API key, when
the server needs one, is read from ``TENKEN_JUDGE_API_KEY`` or ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenken.core.artifacts import read_jsonl, write_json
from tenken.core.errors import InputError, ModelOutputError, require_module

SYSTEM_PROMPT = "You are a careful grader of answers to questions about images."

JUDGE_PROMPT = """Grade how well the Prediction agrees with the reference Answer, given the Question.
The texts may be Japanese or English; judge meaning, not wording.

Scale:
5 = fully correct and relevant, equivalent to the Answer
4 = mostly correct, a minor inaccuracy or omission
3 = partly correct, a clear error or a missing key point
2 = mostly wrong or off-topic, with small correct fragments
1 = wrong or irrelevant

Reply with the score only: one integer from 1 to 5.

Question: {question}
Answer: {answer}
Prediction: {prediction}

Score:"""

_DIGIT = re.compile(r"\d")


def default_cache_dir() -> Path:
    """``$TENKEN_CACHE_DIR/judge``, else ``~/.cache/tenken/judge``."""
    root = os.environ.get("TENKEN_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "tenken") / "judge"


def parse_score(reply: str) -> int:
    """The first digit in ``reply`` when it is 1–5, else 0."""
    m = _DIGIT.search(reply or "")
    if m is None:
        return 0
    value = int(m.group())
    return value if 1 <= value <= 5 else 0


@dataclass
class JudgeResult:
    """One judged sample: ``score`` 0–5 (None when the request failed), the raw ``reply``, whether it came
    from the cache, and the error text when the request failed."""

    score: int | None
    reply: str
    cached: bool = False
    error: str | None = None


class LLMJudge:
    """A 1–5 correctness judge behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the model name sent to the server.
        base_url: the server's base URL (``.../v1``).
        cache_dir: where replies are cached (default :func:`default_cache_dir`).
        api_key: bearer token (default from the environment, see module docs).
        timeout: seconds per request.
        retries: extra attempts on connection errors and HTTP 5xx/429.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        cache_dir: str | Path | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
    ) -> None:
        if not model or not base_url:
            raise InputError(f"judge needs a model and a base URL, got model={model!r} base_url={base_url!r}")
        require_module("httpx", "eval", "the LLM judge")  # before any sample is scored, not per request
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.api_key = api_key or os.environ.get("TENKEN_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self.requests_made = 0
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str, cache_dir: str | Path | None = None) -> LLMJudge:
        """Build from ``openai:MODEL@BASE_URL``."""
        if not spec.startswith("openai:") or "@" not in spec:
            raise InputError(f"judge spec {spec!r} is not of the form openai:MODEL@BASE_URL")
        model, url = spec[len("openai:") :].split("@", 1)
        if not url.startswith(("http://", "https://")):
            raise InputError(f"judge spec {spec!r}: the base URL must start with http:// or https://")
        return cls(model, url, cache_dir=cache_dir)

    def messages(self, question: str, answer: str, prediction: str) -> list[dict[str, str]]:
        """The chat messages sent for one sample."""
        user = JUDGE_PROMPT.format(question=question, answer=answer, prediction=prediction)
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def _cache_path(self, messages: list[dict[str, str]]) -> Path:
        key = json.dumps({"model": self.model, "messages": messages}, ensure_ascii=False, sort_keys=True)  # a hash key
        return self.cache_dir / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.json"

    def _request(self, messages: list[dict[str, str]]) -> str:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "seed": 0, "max_tokens": 16}
        url = f"{self.base_url}/chat/completions"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                with self._lock:
                    self.requests_made += 1
                r = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
                if r.status_code == 429 or r.status_code >= 500:
                    raise httpx.HTTPStatusError(f"HTTP {r.status_code}", request=r.request, response=r)
                r.raise_for_status()
                data = r.json()
                return str(data["choices"][0]["message"]["content"] or "")
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                last = exc
                status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                if status is not None and status < 500 and status != 429:
                    break
                time.sleep(0.5 * (attempt + 1))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ModelOutputError(f"judge at {url} gave a reply without choices[0].message: {exc}") from exc
        raise ModelOutputError(f"judge request to {url} failed: {last}")

    def judge(self, question: str, answer: str, prediction: str) -> JudgeResult:
        """Score one prediction (cached; an empty prediction scores 0 without a request)."""
        if not str(prediction).strip():
            return JudgeResult(score=0, reply="", cached=False)
        messages = self.messages(question, answer, prediction)
        path = self._cache_path(messages)
        if path.is_file():
            try:
                reply = read_jsonl(path)[0]["reply"]
                return JudgeResult(score=parse_score(reply), reply=reply, cached=True)
            except (OSError, IndexError, KeyError):
                pass  # a damaged cache entry is simply asked again
        try:
            reply = self._request(messages)
        except ModelOutputError as exc:
            return JudgeResult(score=None, reply="", error=str(exc))
        write_json(path, {"model": self.model, "messages": messages, "reply": reply}, indent=None)
        return JudgeResult(score=parse_score(reply), reply=reply)

    def judge_many(
        self, questions: Sequence[str], answers: Sequence[str], predictions: Sequence[str], concurrency: int = 4
    ) -> list[JudgeResult]:
        """Score aligned lists (results in input order), one request per uncached non-empty prediction, at
        most ``concurrency`` requests in flight."""
        if not len(questions) == len(answers) == len(predictions):
            raise ValueError("questions, answers and predictions must have the same length")
        items = list(zip(questions, answers, predictions, strict=True))
        if concurrency <= 1 or len(items) <= 1:
            return [self.judge(q, a, p) for q, a, p in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda item: self.judge(*item), items))


def summarize(results: Sequence[JudgeResult], model: str) -> dict[str, Any]:
    """``{"llm_judge": mean score 0–5 over judged samples, "n", "failed", "invalid", "cached", "model"}``.

    ``failed`` samples (request errors) are excluded from the mean and counted; ``invalid`` replies (no
    digit 1–5 first) score 0 and are counted.
    """
    scored = [r for r in results if r.score is not None]
    return {
        "llm_judge": sum(r.score for r in scored) / len(scored) if scored else None,  # type: ignore[misc]
        "n": len(scored),
        "failed": sum(r.score is None for r in results),
        "invalid": sum(1 for r in scored if r.score == 0 and r.reply),
        "cached": sum(r.cached for r in results),
        "model": model,
    }
