"""Fixtures of the curation tests."""

from tests.data.curate.tiny_clip import tiny_clip_path

__all__ = ["tiny_clip_path"]
