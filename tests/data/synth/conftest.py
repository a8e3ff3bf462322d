"""Scenes with known truth (cut-outs pasted on backgrounds, both from ``tests/assets``) and a scripted teacher
server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenken.core.images import save_image
from tenken.data.synth.teachers import GroundingSegmenter, Teachers, load_llm, load_teacher_vlm
from tests.fixtures.scripted_teacher import ScriptedTeacher, make_scenes, serve

RATES = {"teacher": {"count": 0.4, "describe": 0.4, "relation": 0.4}, "segmenter": {"ground_count": 0.2}}


@pytest.fixture(scope="session")
def scenes(assets: Path):
    return make_scenes(assets, 5, seed=3)


@pytest.fixture(scope="session")
def images_dir(scenes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    for s in scenes:
        save_image(s.image, folder / f"{s.id}.png")
    return folder


@pytest.fixture(scope="session")
def teacher_server(scenes):
    teacher = ScriptedTeacher(scenes, RATES)
    with serve(teacher) as url:
        yield teacher, url


@pytest.fixture
def server(teacher_server):
    """The scripted teacher and its URL, with per-test knobs (failures, delay) reset."""
    teacher, url = teacher_server
    teacher.fail_next.clear()
    teacher.delay = 0.0
    yield teacher, url
    teacher.fail_next.clear()
    teacher.delay = 0.0


def make_teachers(
    url: str, vlm: str = "teacher", segmenter: str | None = "segmenter", llm: str | None = None
) -> Teachers:
    """Teachers over the scripted server (no retries, so a scripted failure costs one request)."""
    opts = {"family": "qwen3-vl", "max_retries": 0, "timeout": 10}
    return Teachers(
        vlm=load_teacher_vlm(f"openai:{vlm}@{url}", **opts),
        segmenter=GroundingSegmenter(load_teacher_vlm(f"openai:{segmenter}@{url}", **opts)) if segmenter else None,
        llm=load_llm(f"openai:{llm}@{url}", max_retries=0, timeout=10) if llm else None,
    )
