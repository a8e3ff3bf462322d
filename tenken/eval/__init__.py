"""Evaluation: detection F1 and size tables, COCO mAP@50, grounding accuracy (Ref-L4), Japanese ROUGE-L,
LLM-as-a-judge, benchmark formats and runners, markdown tables and plots.

Definitions follow DESIGN.md "Metrics"; ``docs/eval.md`` shows every command. Modules are imported on use:

- :mod:`tenken.eval.detection` — per-sample F1 (bbox, bbox + label), recall/agreement by box size
- :mod:`tenken.eval.coco_map` — mAP@50 through pycocotools / faster-coco-eval
- :mod:`tenken.eval.rec` — REC accuracy at IoU > 0.5 / 0.75 / 0.9 and mAcc
- :mod:`tenken.eval.text` — Japanese ROUGE-L, exact and normalised match
- :mod:`tenken.eval.classification` — accuracy and confusion matrix
- :mod:`tenken.eval.judge` — LLM-as-a-judge over an OpenAI-compatible endpoint
- :mod:`tenken.eval.formats` — JSONL formats, dataset readers, skip reports
- :mod:`tenken.eval.scoring` — file-level scoring used by the CLI and the runners
- :mod:`tenken.eval.runners` — benchmark runs (on the resumable run engine of :mod:`tenken.core.runs`)
- :mod:`tenken.eval.tasks` — the benchmark tasks and benchmarks, registered by decorator (one file each)
- :mod:`tenken.eval.tables`, :mod:`tenken.eval.plots` — markdown tables and PNG plots
"""
