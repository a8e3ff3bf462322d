"""Model families: the resize rule of Qwen2.5-VL, detection from config, and the one box conversion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.errors import InputError
from tenken.vlm.families import FAMILY_NAMES, canonical_family, detect_family, get_family, smart_resize
from tenken.vlm.loader import _processor_resize_options


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 8000), st.integers(1, 8000), st.sampled_from([28, 32]),
    st.sampled_from([(3136, 12845056), (3136, 1003520), (28 * 28 * 4, 28 * 28 * 16), (256 * 32 * 32, 1280 * 32 * 32)]),
)  # fmt: skip
def test_smart_resize_matches_transformers(h, w, factor, limits):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as reference

    if max(h, w) / min(h, w) > 200:
        with pytest.raises(InputError):
            smart_resize(h, w, factor, *limits)
        return
    assert smart_resize(h, w, factor, *limits) == reference(h, w, factor, *limits)


@pytest.mark.parametrize(
    ("model_type", "family"),
    [
        ("qwen2_5_vl", "qwen2.5-vl"),
        ("qwen3_vl", "qwen3-vl"),
        ("qwen3_vl_moe", "qwen3-vl"),
        ("qwen2_vl", "qwen2-vl"),
        ("plamo2_vl", "plamo"),
        ("llava", "llava"),
        ("llava_next", "llava"),
        (None, "llava"),
    ],
)
def test_detect_family(model_type, family):
    assert detect_family(model_type) == family


def test_names_and_aliases():
    for name in FAMILY_NAMES:
        assert get_family(name).name == name
    assert canonical_family("Qwen2_5_VL") == "qwen2.5-vl"
    with pytest.raises(InputError, match="unknown model family"):
        get_family("gpt-9")
    with pytest.raises(InputError, match="box_format"):
        get_family("llava", box_format="percent")


def test_box_instruction_names_the_key_and_scale():
    assert '"bbox_2d"' in get_family("qwen2.5-vl").box_instruction("en")
    assert "0 to 1000" in get_family("llava").box_instruction("en")
    assert "0〜1" in get_family("llava", box_format="rel1").box_instruction("ja")


def test_to_pixels_per_format():
    b = np.array([[100.0, 100.0, 500.0, 500.0]])
    np.testing.assert_allclose(get_family("qwen3-vl").to_pixels(b, (2000, 1000)), [[200, 100, 1000, 500]])
    np.testing.assert_allclose(get_family("llava", box_format="pixels").to_pixels(b, (2000, 1000)), b)
    q = get_family("qwen2.5-vl")
    np.testing.assert_allclose(q.to_pixels(b, (2000, 1000), processed_size=(1000, 500)), [[200, 200, 1000, 1000]])
    forced = get_family("llava", box_format="processed", max_pixels=28 * 28 * 16)
    assert forced.processed_size((1920, 1080)) == (140, 84)


def test_resize_options_read_from_a_qwen_processor():
    from transformers import Qwen2VLImageProcessorPil

    proc = Qwen2VLImageProcessorPil(min_pixels=1234, max_pixels=56789)
    assert _processor_resize_options(proc) == {"factor": 28, "min_pixels": 1234, "max_pixels": 56789}
    proc3 = Qwen2VLImageProcessorPil(patch_size=16, min_pixels=4096, max_pixels=99999)
    assert _processor_resize_options(proc3)["factor"] == 32


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(["rel1000", "rel1", "processed", "pixels"]),
    w=st.integers(32, 3000),
    h=st.integers(32, 3000),
    frac=st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_from_pixels_inverts_to_pixels(fmt, w, h, frac):
    fam = get_family("qwen2.5-vl", box_format=fmt)
    x1, x2 = sorted((frac[0] * w, frac[2] * w))
    y1, y2 = sorted((frac[1] * h, frac[3] * h))
    box = np.array([[x1, y1, x2, y2]])
    back = fam.to_pixels(fam.from_pixels(box, (w, h)), (w, h))
    assert np.allclose(back, box, atol=1e-6)
