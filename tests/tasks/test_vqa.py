"""``ask_video``: a clip's frames reach the model as an ordered image list, through a real tiny checkpoint."""

from __future__ import annotations

import pytest

from tenken.core.errors import InputError
from tenken.tasks.vqa import ask_video
from tests.vlm.fakes import scripted_vlm
from tests.vlm.test_video import write_clip


class ProcessorSpy:
    """Wraps a processor, keeping the inputs it was called with and what it returned."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[tuple[dict, object]] = []

    def __call__(self, **kwargs):
        out = self.inner(**kwargs)
        self.calls.append((kwargs, out))
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_frames_reach_a_tiny_qwen25_processor_as_image_tokens(tiny_qwen25_path, tmp_path):
    from tenken.vlm.loader import load_vlm

    vlm = load_vlm(str(tiny_qwen25_path), max_new_tokens=3)
    spy = ProcessorSpy(vlm.backend.processor)
    vlm.backend.processor = spy
    answer, times = ask_video(vlm, write_clip(tmp_path / "c.avi", n=40), "what changes?", lang="en", max_frames=6)
    assert isinstance(answer, str) and len(times) == 6
    kwargs, inputs = spy.calls[-1]
    assert len(kwargs["images"][0]) == 6  # six frames, in one request
    grid = inputs["image_grid_thw"]
    assert grid.shape[0] == 6  # each frame encoded by the vision tower
    merge = vlm.backend.processor.image_processor.merge_size
    pad = vlm.backend.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    n_tokens = int((inputs["input_ids"][0] == pad).sum())
    assert n_tokens == int(grid.prod(dim=1).sum()) // merge**2  # every frame's visual tokens are in the prompt
    assert "frames sampled evenly from one video" in kwargs["text"][0]


def test_prompt_names_the_frame_times_and_errors_name_the_file(tmp_path):
    vlm = scripted_vlm("はい")
    answer, times = ask_video(vlm, write_clip(tmp_path / "c.avi", n=21), "ケーブルは切れていますか？", max_frames=3)
    request = vlm.backend.seen[-1]
    assert answer == "はい" and times == [0.0, 1.0, 2.0] and len(request.images) == 3
    assert "0.0、1.0、2.0秒" in request.prompt and request.prompt.endswith("ケーブルは切れていますか？")
    with pytest.raises(InputError, match=r"nothing\.mp4"):
        ask_video(vlm, tmp_path / "nothing.mp4", "?")
