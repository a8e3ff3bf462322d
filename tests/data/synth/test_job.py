"""The synth job: a killed job resumes with nothing lost or duplicated; failed items are retried on resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tenken.core.artifacts import read_jsonl
from tenken.core.errors import InputError
from tenken.data.format import read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.teachers import Teachers
from tests.data.synth.conftest import make_teachers

pytestmark = pytest.mark.network
REPO = Path(__file__).resolve().parents[3]


def test_killed_job_resumes_without_loss_or_duplicates(server, images_dir: Path, scenes, tmp_path: Path):
    teacher, url = server
    reference = run_synth("count", images_dir, tmp_path / "ref", make_teachers(url))
    want_kept = [s.id for s in read_samples(reference.samples)]
    want_rejected = [s.id for s in read_samples(reference.rejected)]

    out = tmp_path / "killed"
    teacher.delay = 0.25  # slow enough to be killed between items
    cmd = [
        sys.executable, "-m", "tenken", "data", "synth", "count", str(images_dir), "--out", str(out),
        "--vlm", f"openai:teacher@{url}", "--family", "qwen3-vl", "--segmenter", f"vlm:openai:segmenter@{url}",
        "--segmenter-family", "qwen3-vl", "--retries", "0", "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "items.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.is_file() and journal.read_text(encoding="utf-8").count("\n") >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    done_before = len(read_jsonl(journal))
    assert 2 <= done_before < len(scenes), "the job was not killed mid-run"

    teacher.delay = 0.0
    resumed = run_synth("count", images_dir, out, make_teachers(url), resume=True)
    assert resumed.run.skipped == done_before and resumed.run.done == len(scenes) - done_before
    assert [s.id for s in read_samples(resumed.samples)] == want_kept
    assert [s.id for s in read_samples(resumed.rejected)] == want_rejected
    assert len({r["id"] for r in read_jsonl(journal)}) == len(read_jsonl(journal)) == len(scenes)


def test_failed_item_is_recorded_then_retried_on_resume(server, images_dir: Path, scenes, tmp_path: Path):
    teacher, url = server
    teacher.fail_next["teacher"] = 1  # the first item's first VLM request fails: the whole item fails
    first = run_synth("count", images_dir, tmp_path / "o", make_teachers(url))
    assert first.run.failed == 1 and len(first.failed_items) == 1
    assert "HTTP 500" in next(iter(first.failed_items.values()))
    again = run_synth("count", images_dir, tmp_path / "o", make_teachers(url), resume=True)
    assert again.run.retried == 1 and again.run.done == 1 and again.failed_items == {}
    assert again.kept + again.dropped > first.kept + first.dropped


def test_shards_write_their_own_files_and_bad_options_fail_early(server, images_dir: Path, tmp_path: Path):
    _, url = server
    s0 = run_synth("count", images_dir, tmp_path, make_teachers(url), shard=(0, 2))
    s1 = run_synth("count", images_dir, tmp_path, make_teachers(url), shard=(1, 2))
    assert s0.samples.name == "samples.0-of-2.jsonl" and s1.samples.name == "samples.1-of-2.jsonl"
    assert s0.run.total + s1.run.total == len(list(images_dir.glob("*.png")))
    with pytest.raises(InputError, match="agreemnt"):
        run_synth("count", images_dir, tmp_path / "x", make_teachers(url), {"agreemnt": False})
    with pytest.raises(InputError, match="needs the teacher"):
        run_synth("count", images_dir, tmp_path / "x", Teachers())
    with pytest.raises(InputError, match="unknown data recipe"):
        run_synth("cuont", images_dir, tmp_path / "x", Teachers())
