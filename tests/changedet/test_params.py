"""``ChangeParams``: documented defaults, validation and CLI ``key=value`` parsing."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.changedet import ChangeParams
from tenken.core.errors import InputError


def test_every_parameter_is_documented():
    doc = ChangeParams.__doc__ or ""
    for f in dataclasses.fields(ChangeParams):
        assert f"{f.name}:" in doc, f"{f.name} has no entry in the ChangeParams docstring"


def test_assignments_convert_to_field_types():
    p = ChangeParams.from_assignments(["sensitivity=6", "shift_tolerance=3", "local_light=false", "min_score=0.2"])
    assert p.sensitivity == 6.0 and isinstance(p.sensitivity, float)
    assert p.shift_tolerance == 3 and isinstance(p.shift_tolerance, int)
    assert p.local_light is False
    assert p.min_score == 0.2
    assert ChangeParams.from_assignments(None) == ChangeParams()


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        (["sensitivty=6"], "sensitivty"),
        (["sensitivity"], "KEY=VALUE"),
        (["=3"], "KEY=VALUE"),
        (["sensitivity=abc"], "sensitivity"),
        (["shift_tolerance=2.5"], "shift_tolerance"),
        (["local_light=maybe"], "local_light"),
        (["sensitivity=-1"], "sensitivity"),
        (["grow=0"], "grow"),
        (["working_side=10"], "working_side"),
        (["min_delta_e=nan"], "min_delta_e"),
        (["noise_quantile=100"], "noise_quantile"),
        (["light_radius=0"], "light_radius"),
        (["blur_tolerance=0.5"], "blur_tolerance"),
        (["equalise_blur=sometimes"], "equalise_blur"),
    ],
)
def test_bad_assignments_name_the_problem(items, needle):
    with pytest.raises(InputError, match=needle):
        ChangeParams.from_assignments(items)


def test_constructor_rejects_wrong_types_and_ranges():
    with pytest.raises(InputError, match="shift_tolerance"):
        ChangeParams(shift_tolerance=1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_area_fraction"):
        ChangeParams(max_area_fraction=0.0)
    assert ChangeParams(sensitivity=6).sensitivity == 6.0  # ints are fine for float fields


def test_to_dict_round_trips_through_from_mapping():
    p = ChangeParams(sensitivity=4.5, border=2)
    assert ChangeParams.from_mapping(p.to_dict()) == p
    assert ChangeParams.from_mapping({k: str(v) for k, v in p.to_dict().items()}) == p


@given(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), st.integers(min_value=0, max_value=16))
def test_valid_numbers_parse_back_exactly(sensitivity, radius):
    p = ChangeParams.from_assignments([f"sensitivity={sensitivity!r}", f"shift_tolerance={radius}"])
    assert p.sensitivity == sensitivity and p.shift_tolerance == radius


@given(st.text(max_size=20))
def test_any_text_either_parses_or_raises_input_error(text):
    with contextlib.suppress(InputError):
        ChangeParams.from_assignments([text])
