"""Curation of image–text corpora (alt-text pairs and interleaved documents) with the LLM-jp-3 VILA filters.

Entry point: :func:`tenken.data.curate.pipeline.curate` (CLI: ``tenken data curate``); statistics and contact
sheets: :mod:`tenken.data.curate.stats` (``tenken data stats``). See ``docs/curate.md``.
"""
