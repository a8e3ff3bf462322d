"""GRPO with verifiable rewards on TRL's ``GRPOTrainer``.

``run_grpo(recipe, data, model, out)``: prompts come from tenken training JSONL (the assistant turn is
dropped; its boxes are the ground truth of the rewards), rewards are :mod:`tenken.train.rewards` by name with
weights (``recipe.rewards``, or ``rewards=``), option dicts per reward (``recipe.reward_options``, e.g.
``{"schema": {"schema": "report.schema.json"}}``). With ``use_vllm: true`` in the recipe's ``training``
section TRL generates with vLLM (GPU only). The result is exported like SFT's: a plain checkpoint in ``out``.
With a validation set, the greedy mean of every reward on it is logged every ``early_stopping.every_steps``
steps to ``out/validation.jsonl`` (and early stopping on its F1 applies as in SFT).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tenken.core.artifacts import JsonlAppender, write_json
from tenken.core.errors import InputError
from tenken.train.examples import SampleDataset
from tenken.train.recipe import Recipe
from tenken.train.rewards import grpo_reward_functions
from tenken.train.sft import Progress, finish, make_callbacks, trainer_args
from tenken.train.stages import apply_stage, load_for_training, trainable_parameters
from tenken.train.validate import score_model
from tenken.vlm.loader import checkpoint_family


def run_grpo(
    recipe: Recipe,
    data: str | os.PathLike,
    model: str | os.PathLike,
    out: str | os.PathLike,
    val: str | os.PathLike | None = None,
    rewards: Mapping[str, float] | None = None,
    reward_options: Mapping[str, Mapping[str, Any]] | None = None,
    family: str | None = None,
    resume: bool = False,
    limit: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    **family_options: Any,
) -> dict[str, Any]:
    """GRPO-train ``model`` on the prompts of ``data``; save the result to ``out``.

    Args:
        recipe: the recipe (stage, LoRA, ``training`` = ``GRPOConfig`` fields such as ``num_generations``,
            ``max_completion_length``, ``beta``, ``temperature``).
        rewards: reward name -> weight (default: ``recipe.rewards``; at least one is needed).
        reward_options: reward name -> options (default: ``recipe.reward_options``).
        Other arguments as :func:`tenken.train.sft.run_sft`.

    Returns:
        The summary written to ``out/summary.json`` (with ``validation_before`` and the reward history).
    """
    from trl import GRPOConfig, GRPOTrainer

    weights = dict(rewards or recipe.rewards)
    if not weights:
        raise InputError(f"recipe {recipe.name!r}: GRPO needs rewards (name: weight), e.g. rewards: {{iou_f1: 1}}")
    options = {k: dict(v) for k, v in (reward_options or recipe.reward_options).items()}
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    if resume and not any(ckpt_dir.glob("checkpoint-*")):
        raise InputError(f"{out}: nothing to resume (no checkpoints in {ckpt_dir})")
    net, processor = load_for_training(model)
    fam = checkpoint_family(
        net.config, getattr(processor, "image_processor", None), family, path=str(model), **family_options
    )
    funcs = grpo_reward_functions(list(weights), fam, options)
    train_ds = SampleDataset(data, fam, recipe.lang_ratio, limit, seed)
    val_ds = SampleDataset(val, fam, seed=seed) if val else None
    es = recipe.early_stopping
    before = None
    if val_ds is not None and es is not None:
        before = score_model(net, processor, val_ds, es.samples, es.max_new_tokens, rewards=weights,
                             reward_options=options).to_dict()  # fmt: skip
        with JsonlAppender(out / "validation.jsonl") as log:
            log.write({"step": 0, **before})
    net = apply_stage(net, recipe)
    n_train, n_total = trainable_parameters(net)
    args = trainer_args(recipe, ckpt_dir, GRPOConfig, seed=seed, reward_weights=list(weights.values()))
    callbacks, state = make_callbacks(recipe, val_ds, processor, out, progress, rewards=weights, reward_options=options)
    trainer = GRPOTrainer(
        model=net,
        reward_funcs=funcs,
        args=args,
        train_dataset=train_ds.to_hf_prompts(),
        processing_class=processor,
        callbacks=callbacks,
    )
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - t0
    rank = finish(trainer, net, processor, state, out, fam)
    history = [
        {"step": h["step"], **{k: v for k, v in h.items() if k.startswith("reward")}}
        for h in trainer.state.log_history
        if "step" in h and any(k.startswith("reward") for k in h)
    ]
    summary = {
        "recipe": recipe.name,
        "model": str(model),
        "family": fam.name,
        "data": str(data),
        "rewards": weights,
        "n_train": len(train_ds),
        "trainable_parameters": n_train,
        "total_parameters": n_total,
        "steps": result.global_step,
        "seconds": seconds,
        "validation_before": before,
        "validation": state["history"],
        "best_step": state["best_step"],
        "best": state["best"],
        "stopped_by_time": state["stopped_by_time"],
        "train_rewards": history,
        "out": str(out),
        "rank": rank,
    }
    if rank == 0:
        write_json(out / "summary.json", summary)
    return summary
