"""Training-data stats: counts, per-filter tallies, histograms and plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenken.core.artifacts import write_jsonl
from tenken.core.errors import InputError
from tenken.data.stats import is_training_jsonl, training_stats


def _row(i: int, keep: bool, boxes: list, label: str = "cone") -> dict:
    decision = {"name": "count_agreement", "keep": keep, "score": 1.0}
    prov = {"recipe": "count", "filters": [{"name": "countable", "keep": True}, decision]}
    if not keep:
        prov["rejected_by"] = decision
    return {"id": f"s{i}", "images": [], "task": "count", "lang": "ja" if i % 2 else "en", "provenance": prov,
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "1"}],
            "boxes": [{"box": b, "label": label} for b in boxes]}  # fmt: skip


def test_counts_filters_histograms_and_plots(tmp_path: Path):
    write_jsonl(
        tmp_path / "samples.jsonl",
        [_row(0, True, [[0, 0, 10, 10]]), _row(1, True, [[0, 0, 20, 20], [0, 0, 30, 30]], "コーン")],
    )
    write_jsonl(tmp_path / "rejected.jsonl", [_row(2, False, [])])
    s = training_stats(tmp_path, plots=tmp_path / "plots")
    assert s["kept"] == 2 and s["rejected"] == 1 and s["by_lang"] == {"en": 1, "ja": 1}
    assert s["filters"] == {"countable": {"passed": 3, "dropped": 0}, "count_agreement": {"passed": 2, "dropped": 1}}
    assert s["labels"] == {"コーン": 2, "cone": 1} and s["boxes"]["n"] == 3 and s["boxes"]["size_px"]["p50"] == 20.0
    assert sum(s["boxes"]["size_hist"]["counts"]) == 3
    assert all(Path(p).stat().st_size > 1000 for p in s["plots"].values())
    assert is_training_jsonl(tmp_path / "samples.jsonl")
    write_jsonl(tmp_path / "other.jsonl", [{"url": "x", "caption": "y"}])
    with pytest.raises(InputError, match="not a training JSONL"):
        training_stats(tmp_path / "other.jsonl")
