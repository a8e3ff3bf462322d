"""VLM backends: ``transformers`` in process (:mod:`.hf`) and any OpenAI-compatible server (:mod:`.openai_compat`)."""

from tenken.vlm.backends.base import Backend, BackendError, BackendStats, VLMRequest

__all__ = ["Backend", "BackendError", "BackendStats", "VLMRequest"]
