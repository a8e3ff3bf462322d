"""Shift-tolerant colour and structure cues, and the light-change test."""

from __future__ import annotations

import cv2
import numpy as np

from tenken.changedet.cues import colour_cue, interval_distance, light_explained, structure_cue
from tenken.changedet.normalize import to_lab


def textured(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(20, 80, size=(h // 4, w // 4, 3)).astype(np.float32)
    return np.kron(base, np.ones((4, 4, 1), np.float32))


def test_interval_distance_ignores_shifts_within_the_radius():
    a = textured()
    shifted = np.roll(a, 2, axis=1)
    inner = (slice(8, -8), slice(8, -8))
    assert interval_distance(shifted, a, 0, np.ones(3))[inner].max() > 10  # a plain difference sees it
    assert interval_distance(shifted, a, 2, np.ones(3))[inner].max() == 0  # tolerant of 2 px
    assert interval_distance(np.roll(a, 4, axis=1), a, 2, np.ones(3))[inner].max() > 0  # not of 4


def test_interval_distance_is_the_weighted_gap_to_the_range():
    b = np.zeros((5, 5, 3), np.float32)
    a = b.copy()
    a[2, 2] = (3, 4, 0)
    d = interval_distance(a, b, 1, np.array([1.0, 1.0, 1.0]))
    assert np.isclose(d[2, 2], 5.0) and d[0, 0] == 0
    d2 = interval_distance(a, b, 1, np.array([2.0, 1.0, 1.0]))
    assert np.isclose(d2[2, 2], np.hypot(6, 4))


def test_colour_cue_sees_a_new_patch_in_both_directions_and_weights_chroma():
    ref = textured()
    tgt = ref.copy()
    tgt[24:36, 24:36, 1] += 40  # a colour (a*) change only
    fwd, bwd = colour_cue(tgt, ref, 2, 1.0)
    assert fwd[30, 30] > 20 and bwd[30, 30] > 20
    fwd2, _ = colour_cue(tgt, ref, 2, 2.0)
    assert fwd2[30, 30] > 1.5 * fwd[30, 30]
    assert fwd[5, 5] == 0


def test_structure_cue_finds_new_edges_not_moved_ones():
    ref = np.zeros((64, 64), np.float32)
    ref[:, 32:] = 50
    moved = ref.copy()
    moved[:, 1:] = ref[:, :-1]  # the edge moved by 1 px (no wrap-around)
    new_edge = moved.copy()
    new_edge[10:20, 10:20] = 60
    sf, sb = structure_cue(moved, ref, 2)
    assert sf.max() == 0 and sb.max() == 0
    sf, _ = structure_cue(new_edge, ref, 2)
    assert sf[10:20, 8:22].max() > 10 and sf[40:, :].max() == 0


def test_light_explains_a_shadow_but_not_a_new_object():
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.normal(0, 30, (120, 160)).astype(np.float32), (0, 0), 1.5)
    ref = np.clip(np.dstack([texture + 140, texture + 120, texture + 90]), 0, 255).astype(np.uint8)
    tgt = ref.astype(np.float32)
    tgt[:, 80:] *= 0.45  # a cast shadow over the right half: darker, same colour and texture
    tgt[30:60, 20:50] = (200, 40, 40)  # a red object in the light
    tgt = np.clip(tgt, 0, 255).astype(np.uint8)
    light, band, gain = light_explained(tgt, ref, to_lab(tgt, 1.0)[:, :, 0], to_lab(ref, 1.0)[:, :, 0], 3, 0.04, 0.035)
    assert light[10:110, 90:150].mean() > 0.9
    assert (light | band)[10:110, 78:83].mean() > 0.9  # the shadow's edge
    assert light[35:55, 25:45].mean() < 0.1
    assert np.abs(np.median(gain[10:110, 90:150]) - (0.45 * 1.0)) < 0.3  # about the shadow's lightness ratio
