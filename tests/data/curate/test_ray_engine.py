"""``--engine ray``: the same results as the local engine, on a one-CPU local Ray instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenken.core.artifacts import read_jsonl
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.pipeline import curate
from tenken.data.curate.shards import Shard, read_shard
from tests.data.curate.corpus import pairs_corpus, write_corpus

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow  # starting Ray takes ~15 s here
def test_ray_engine_matches_local(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    samples, _ = pairs_corpus()
    write_corpus(tmp_path / "in", samples, "parquet", "pairs", n_shards=2)
    opts = CurateOptions(nsfw="none", frequent_max=3, text_max_repeats=2)
    local = curate([tmp_path / "in"], tmp_path / "local", opts)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=1, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": pythonpath}})
    try:
        remote = curate([tmp_path / "in"], tmp_path / "ray", opts, engine="ray")
    finally:
        ray.shutdown()
    assert (remote.samples, remote.kept, remote.funnel) == (local.samples, local.kept, local.funnel)
    assert read_jsonl(tmp_path / "ray" / "dropped.jsonl") == read_jsonl(tmp_path / "local" / "dropped.jsonl")
    assert len(read_jsonl(tmp_path / "ray" / "progress" / "score.jsonl")) == 2
    assert len(read_jsonl(tmp_path / "ray" / "progress" / "write.jsonl")) == 2
    for name in ("part-0.parquet", "part-1.parquet"):
        ray_ids = [s.id for s in read_shard(Shard(tmp_path / "ray" / "shards" / name, "parquet"))]
        assert ray_ids == [s.id for s in read_shard(Shard(tmp_path / "local" / "shards" / name, "parquet"))]
        assert ray_ids  # both halves keep something
