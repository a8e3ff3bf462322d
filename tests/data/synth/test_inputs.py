"""Job inputs: image folders (recursive) and manifests (.txt, .jsonl) with stable, unique ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenken.core.errors import InputError
from tenken.core.images import save_image
from tenken.data.synth.inputs import image_items


def test_folders_and_manifests(tmp_path: Path):
    img = np.zeros((8, 8, 3), np.uint8)
    for rel in ("a.png", "sub/b.jpg"):
        save_image(img, tmp_path / "imgs" / rel)
    (tmp_path / "imgs" / "notes.txt").write_text("x")
    items = image_items(tmp_path / "imgs")
    assert [i.id for i in items] == ["a", "sub/b"] and items[1].image == tmp_path / "imgs" / "sub" / "b.jpg"
    (tmp_path / "list.txt").write_text("# photos\nimgs/a.png\n\nimgs/sub/b.jpg\n")
    assert [i.id for i in image_items(tmp_path / "list.txt")] == ["imgs/a", "imgs/sub/b"]
    (tmp_path / "m.jsonl").write_text('{"image": "imgs/a.png", "id": "x1"}\n{"path": "imgs/sub/b.jpg"}\n')
    assert [i.id for i in image_items(tmp_path / "m.jsonl")] == ["x1", "imgs/sub/b"]
    (tmp_path / "dup.jsonl").write_text('{"image": "imgs/a.png", "id": "x"}\n{"image": "imgs/a.png", "id": "x"}\n')
    with pytest.raises(InputError, match="twice"):
        image_items(tmp_path / "dup.jsonl")
    (tmp_path / "miss.txt").write_text("imgs/nope.png\n")
    with pytest.raises(InputError, match=r"miss.txt:1: image not found"):
        image_items(tmp_path / "miss.txt")
    with pytest.raises(InputError, match="no such folder"):
        image_items(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images"):
        image_items(tmp_path / "empty")
