"""Training on tenken's training-data format, on transformers / peft / TRL / accelerate.

Modules: :mod:`.assemble` (vision tower + projector + LLM -> LLaVA checkpoint), :mod:`.examples` (training
JSONL -> trainer examples in a family's box convention), :mod:`.recipe` (YAML recipes), :mod:`.stages` (what
a stage trains; loading and exporting checkpoints), :mod:`.sft` and :mod:`.grpo` (the runs),
:mod:`.rewards` (verifiable GRPO rewards, a registry), :mod:`.validate` (validation scoring with
:mod:`tenken.eval`), :mod:`.synthetic` (colour-distractor grounding data). Heavy libraries are imported inside
functions, so importing this package is cheap.
"""
