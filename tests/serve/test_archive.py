"""Upload names and server folders: nothing a client sends can name a path outside what it is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.core.errors import InputError
from tenken.serve.archive import resolve_import_folder, safe_name
from tenken.serve.blobs import BlobStore
from tenken.serve.settings import ServeSettings


@given(st.text(max_size=300))
def test_safe_name_is_one_path_component(name: str) -> None:
    out = safe_name(name, "fallback")
    assert out and "/" not in out and "\\" not in out
    assert len(out) <= 200 and all(ch.isprintable() for ch in out)


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\boot.ini", "/abs/x.jpg", "a/b/c.png"])
def test_safe_name_keeps_the_last_component(name: str) -> None:
    assert safe_name(name, "f") == name.replace("\\", "/").rsplit("/", 1)[-1]


def test_blob_ids_cannot_name_other_paths(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for bad in ("../" + "a" * 61, "A" * 64, "a" * 63, "a" * 64 + "/x"):
        with pytest.raises(InputError):
            store.path(bad)
    assert store.path("a" * 64).is_relative_to(tmp_path)


def test_import_folder_must_be_inside_a_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "flight").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "escape").symlink_to(tmp_path / "secret")
    settings = ServeSettings(data_dir=tmp_path / "d", import_roots=[root])
    assert resolve_import_folder("flight", settings) == (root / "flight").resolve()
    for bad in ("../secret", str(tmp_path / "secret"), "escape", "/"):
        with pytest.raises(InputError, match="outside the import roots"):
            resolve_import_folder(bad, settings)
    with pytest.raises(InputError, match="off"):
        resolve_import_folder("flight", ServeSettings(data_dir=tmp_path / "d"))
