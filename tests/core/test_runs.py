import json

import pytest

from tenken.core.errors import InputError, TenkenError
from tenken.core.runs import parse_shard, run_items, select_shard

ITEMS = [f"i{k}" for k in range(7)]


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_one_line_per_item_and_errors_kept(tmp_path):
    def work(item):
        if item == "i3":
            raise TenkenError("bad image")
        if item == "i4":
            raise KeyError("boom")
        return {"value": item.upper()}

    s = run_items(ITEMS, work, tmp_path / "r.jsonl", key=str, error_row=lambda it, msg: {"input": it})
    rows = {r["id"]: r for r in lines(tmp_path / "r.jsonl")}
    assert (s.done, s.failed, s.total) == (5, 2, 7)
    assert rows["i0"] == {"id": "i0", "value": "I0"}
    assert rows["i3"] == {"id": "i3", "input": "i3", "error": "bad image"}
    assert rows["i4"]["error"] == "unexpected KeyError: 'boom'"


def test_resume_skips_done_retries_errors_and_compacts(tmp_path):
    path = tmp_path / "r.jsonl"
    calls = []
    flaky = {"i2"}

    def work(item):
        calls.append(item)
        if item in flaky:
            raise TenkenError("server down")
        return {"ok": True}

    run_items(ITEMS[:5], work, path, key=str)
    with path.open("a") as fh:
        fh.write('{"id": "i4", "ok": true}\n{"id": "i')  # a duplicate and a torn tail
    flaky.clear()
    calls.clear()
    s = run_items(ITEMS, work, path, key=str, resume=True)
    assert calls == ["i2", "i5", "i6"]
    assert (s.skipped, s.retried, s.done, s.failed) == (4, 1, 3, 0)
    rows = lines(path)
    assert sorted(r["id"] for r in rows) == ITEMS  # one line per id, no error line left
    assert all("error" not in r for r in rows)


def test_fresh_start_keeps_the_old_file_as_bak(tmp_path):
    path = tmp_path / "r.jsonl"
    run_items(ITEMS[:2], lambda it: {}, path, key=str)
    s = run_items(ITEMS[:1], lambda it: {}, path, key=str)
    assert s.previous == tmp_path / "r.jsonl.bak"
    assert len(lines(s.previous)) == 2 and len(lines(path)) == 1


def test_shards_partition_the_items():
    parts = [select_shard(ITEMS, (i, 3)) for i in range(3)]
    assert sorted(x for part in parts for x in part) == sorted(ITEMS)
    assert parts[1] == ["i1", "i4"]
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_threads_write_every_item_once_and_report_progress(tmp_path):
    seen, starts = [], []

    def work(item):
        return {"n": int(item[1:])}

    s = run_items(
        ITEMS, work, tmp_path / "r.jsonl", key=str, workers=3, on_start=starts.append, progress=seen.append
    )
    assert starts == [7] and s.done == 7
    assert sorted(r["id"] for r in lines(tmp_path / "r.jsonl")) == ITEMS
    assert seen[-1].done == 7 and all(e.ok for e in seen)
