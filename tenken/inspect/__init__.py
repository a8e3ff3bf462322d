"""The inspection pipeline: align -> pass-1 candidates -> pass-2 labels -> report; and resumable batches."""

from tenken.core.contracts import AlignedPair, CandidateDetector, Labeller

__all__ = ["AlignedPair", "CandidateDetector", "Labeller"]
