"""Supervised fine-tuning on tenken training JSONL with TRL's ``SFTTrainer``.

``run_sft(recipe, data, model, out)``: the checkpoint is loaded by tenken's inference loader, its family
decides the box convention of the targets (:func:`tenken.vlm.loader.checkpoint_family`), the recipe's stage
decides what trains, and the result is saved to ``out`` as a plain checkpoint (LoRA merged) that
:func:`tenken.load_vlm` loads. Trainer checkpoints go to ``out/checkpoints`` (``resume=True`` continues from
the last); with a validation set, the model is scored every ``early_stopping.every_steps`` steps by
:func:`tenken.train.validate.score_model` (lines in ``out/validation.jsonl``), training stops after
``patience`` scores without improvement and the best weights are the ones exported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tenken.core.artifacts import JsonlAppender, write_json
from tenken.core.errors import InputError
from tenken.train.examples import SampleDataset
from tenken.train.recipe import Recipe
from tenken.train.stages import apply_stage, export_checkpoint, load_for_training, trainable_parameters
from tenken.train.validate import score_model
from tenken.vlm.families import Family
from tenken.vlm.loader import checkpoint_family

Progress = Callable[[dict[str, Any]], None]
"""Called with each log record (``{"step", "loss", ...}`` or ``{"step", "validation": {...}}``)."""


def trainer_args(recipe: Recipe, output_dir: Path, config_cls: Any, **extra: Any) -> Any:
    """TRL config (``SFTConfig`` / ``GRPOConfig``) from the recipe's ``training`` section: CPU when no GPU,
    no external loggers, tenken's own datasets (TRL's preparation skipped)."""
    import torch

    fields = {
        "output_dir": str(output_dir),
        "report_to": [],
        "use_cpu": not torch.cuda.is_available(),
        "save_strategy": "steps",
        "dataloader_num_workers": 0,
        "remove_unused_columns": False,  # the examples are built on access from an index column
        **recipe.training,
        **extra,
    }
    try:
        return config_cls(**fields)
    except TypeError as exc:
        raise InputError(f"recipe {recipe.name!r}: training: {exc}") from None


def _trainer_callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


def make_callbacks(
    recipe: Recipe,
    val: SampleDataset | None,
    processor: Any,
    out: Path,
    progress: Progress | None,
    rewards: Mapping[str, float] | None = None,
    reward_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The validation / early-stopping, time-budget (``recipe.max_minutes``, ``max_cpu_minutes``) and progress
    callbacks, and the state they share (``best``: best score, ``best_step``, ``best_weights``: trainable
    tensors at the best score, ``history``, ``stopped_by_time``). In a distributed run every process scores
    (same weights, same decision); only the main one writes ``validation.jsonl``."""
    base = _trainer_callback_base()
    state: dict[str, Any] = {
        "best": None, "best_step": None, "best_weights": None, "history": [], "stopped_by_time": False
    }  # fmt: skip
    es = recipe.early_stopping

    class Validate(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.bad = 0

        def on_step_end(self, args: Any, st: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if val is None or es is None or st.global_step % es.every_steps:
                return
            t0 = time.perf_counter()
            scores = score_model(model, processor, val, es.samples, es.max_new_tokens, rewards=rewards,
                                 reward_options=reward_options)  # fmt: skip
            row = {"step": st.global_step, "epoch": st.epoch, **scores.to_dict(), "seconds": time.perf_counter() - t0}
            row["example_answer"] = scores.answers[0][:200] if scores.answers else None
            if args.process_index == 0:
                with JsonlAppender(out / "validation.jsonl") as log:
                    log.write(row)
            state["history"].append(row)
            if progress:
                progress({"step": st.global_step, "validation": row})
            value = row["rewards"].get("total", float("nan")) if es.metric == "reward" else row[es.metric]
            if state["best"] is None or value > state["best"]:
                state["best"], state["best_step"], self.bad = value, st.global_step, 0
                state["best_weights"] = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            else:
                self.bad += 1
                if self.bad >= es.patience:
                    control.should_training_stop = True

    class Report(base):  # type: ignore[misc, valid-type]
        def on_train_begin(self, args: Any, st: Any, control: Any, **kw: Any) -> None:
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_step_end(self, args: Any, st: Any, control: Any, **kw: Any) -> None:
            wall = recipe.max_minutes and time.perf_counter() - self.t0 > 60 * recipe.max_minutes
            cpu = recipe.max_cpu_minutes and time.process_time() - self.c0 > 60 * recipe.max_cpu_minutes
            if wall or cpu:
                state["stopped_by_time"] = True
                control.should_training_stop = True

        def on_log(self, args: Any, st: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if progress and logs:
                progress({"step": st.global_step, "max_steps": st.max_steps, **logs})

    return [Validate(), Report()], state


def finish(trainer: Any, net: Any, processor: Any, state: dict[str, Any], out: Path, family: Family) -> int:
    """After training: restore the best validated weights (when they were kept whole: one process or DDP, not
    sharded ZeRO-3/FSDP, where the last weights are exported), then on the main process export ``out`` as a
    plain checkpoint (LoRA merged; the adapter alone in ``out/adapter``). Returns this process's rank."""
    rank = trainer.args.process_index
    best = state["best_weights"]
    params = dict(net.named_parameters())
    if best is not None and all(params[n].shape == v.shape for n, v in best.items()):
        for name, value in best.items():
            params[name].data.copy_(value)
    trainer.accelerator.wait_for_everyone()
    if rank == 0:
        model = trainer.accelerator.unwrap_model(net)
        if hasattr(model, "peft_config"):
            model.save_pretrained(out / "adapter")  # the LoRA alone too (tenken train merge, or serving adapters)
        export_checkpoint(model, processor, out, family)
    return rank


def run_sft(
    recipe: Recipe,
    data: str | os.PathLike,
    model: str | os.PathLike,
    out: str | os.PathLike,
    val: str | os.PathLike | None = None,
    family: str | None = None,
    resume: bool = False,
    limit: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    **family_options: Any,
) -> dict[str, Any]:
    """Fine-tune ``model`` on ``data`` with ``recipe``; save the result to ``out``.

    Args:
        recipe: the loaded recipe (:func:`tenken.train.recipe.load_recipe`).
        data: training JSONL (tenken's format).
        model: checkpoint directory or hub id.
        out: output folder: the exported checkpoint, ``checkpoints/``, ``validation.jsonl``, ``summary.json``.
        val: validation JSONL for early stopping (optional).
        family: the model family (default: detected from the checkpoint, as :func:`tenken.load_vlm` does).
        resume: continue from the last checkpoint in ``out/checkpoints``.
        limit: use at most this many training samples.
        seed: data shuffling and trainer seed.
        progress: log callback.
        **family_options: ``box_format`` etc., as for :func:`tenken.load_vlm` (must match inference).

    Returns:
        The summary written to ``out/summary.json``: steps, seconds, final loss, trainable parameters,
        validation history and the best score.
    """
    from trl import SFTConfig, SFTTrainer

    out = Path(out)
    ckpt_dir = out / "checkpoints"
    if resume and not any(ckpt_dir.glob("checkpoint-*")):
        raise InputError(f"{out}: nothing to resume (no checkpoints in {ckpt_dir})")
    net, processor = load_for_training(model)
    fam = checkpoint_family(
        net.config, getattr(processor, "image_processor", None), family, path=str(model), **family_options
    )
    train_ds = SampleDataset(data, fam, recipe.lang_ratio, limit, seed)
    val_ds = SampleDataset(val, fam, seed=seed) if val else None
    net = apply_stage(net, recipe)
    n_train, n_total = trainable_parameters(net)
    args = trainer_args(
        recipe, ckpt_dir, SFTConfig, seed=seed, dataset_kwargs={"skip_prepare_dataset": True}, max_length=None
    )
    callbacks, state = make_callbacks(recipe, val_ds, processor, out, progress)
    trainer = SFTTrainer(
        model=net, args=args, train_dataset=train_ds.to_hf(), processing_class=processor, callbacks=callbacks
    )
    t0, c0 = time.perf_counter(), time.process_time()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    rank = finish(trainer, net, processor, state, out, fam)
    summary = {
        "recipe": recipe.name,
        "model": str(model),
        "family": fam.name,
        "data": str(data),
        "n_train": len(train_ds),
        "n_val": len(val_ds) if val_ds else 0,
        "skipped_lines": len(train_ds.report.skipped),
        "trainable_parameters": n_train,
        "total_parameters": n_total,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "best_step": state["best_step"],
        "best": state["best"],
        "stopped_by_time": state["stopped_by_time"],
        "validation": state["history"],
        "out": str(out),
        "rank": rank,
    }
    if rank == 0:
        write_json(out / "summary.json", summary)
    return summary
