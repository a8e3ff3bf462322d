"""Shipped accelerate configs, and a real 2-process CPU ``accelerate launch`` of a few SFT steps (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "tenken" / "train" / "accelerate"


def test_shipped_configs():
    kinds = {p.stem: yaml.safe_load(p.read_text())["distributed_type"] for p in CONFIGS.glob("*.yaml")}
    assert kinds == {"zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP", "cpu-2proc": "MULTI_GPU"}
    zero3 = yaml.safe_load((CONFIGS / "zero3.yaml").read_text())
    assert zero3["deepspeed_config"]["zero_stage"] == 3 and zero3["deepspeed_config"]["zero3_save_16bit_model"]


@pytest.mark.slow
def test_two_cpu_processes_train_and_export_once(tiny_llava_path, colour_data, tmp_path, repo_root):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "cpu-2proc.yaml"),
        "-m", "tenken", "train", "sft", "-r", "full", "-d", str(colour_data), "-m", str(tiny_llava_path),
        "-o", str(out), "--set", "training.max_steps=3", "--set", "training.per_device_train_batch_size=2", "--json",
    ]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)  # one JSON document: only the main process reports
    assert summary["steps"] == 3 and summary["rank"] == 0
    # 2 processes x batch 2 x 3 steps = 12 samples of 12: one epoch (a single process would be at 0.5)
    assert "'epoch': '1'" in res.stderr or '"epoch": 1' in res.stderr or "'epoch': 1.0" in res.stderr
    assert (out / "model.safetensors").is_file()
