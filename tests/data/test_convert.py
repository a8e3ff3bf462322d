"""Converters: LLaVA (family-frame boxes), ms-swift objects, COCO."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tenken.core.artifacts import read_jsonl, write_jsonl
from tenken.core.errors import InputError
from tenken.data.convert import convert, stored_size

ROW = {
    "id": "rec-1", "images": ["img/a.png"], "task": "rec", "lang": "ja", "provenance": {"recipe": "rec"},
    "messages": [{"role": "user", "content": "<image>黒い車はどこ？"},
                 {"role": "assistant", "content": "<bbox><bbox>"}],
    "boxes": [{"box": [10, 20, 50, 60], "label": "黒い車"}, {"box": [100, 0, 200, 100], "label": "黒い車"}],
}  # fmt: skip
INLINE = {**ROW, "id": "v-1", "boxes": ROW["boxes"][:1],
          "messages": [{"role": "user", "content": "<image>What is at <bbox>?"},
                       {"role": "assistant", "content": "a car"}]}  # fmt: skip


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "data" / "img").mkdir(parents=True)
    Image.fromarray(np.zeros((200, 400, 3), np.uint8)).save(tmp_path / "data" / "img" / "a.png")
    return write_jsonl(tmp_path / "data" / "samples.jsonl", [ROW, INLINE])


def test_llava_fills_boxes_in_the_family_frame(src: Path, tmp_path: Path):
    res = convert(src, tmp_path / "out" / "llava.jsonl", "llava", family="qwen3-vl")
    rows = read_jsonl(tmp_path / "out" / "llava.jsonl")
    assert res["written"] == 2 and rows[0]["image"] == "../data/img/a.png"
    assert [c["from"] for c in rows[0]["conversations"]] == ["human", "gpt"]
    answer = json.loads(rows[0]["conversations"][1]["value"])  # qwen3-vl: 0-1000 of the 400x200 image
    assert answer == [
        {"bbox_2d": [25, 100, 125, 300], "label": "黒い車"},
        {"bbox_2d": [250, 0, 500, 500], "label": "黒い車"},
    ]
    assert rows[1]["conversations"][0]["value"] == "<image>What is at [25, 100, 125, 300]?"
    assert rows[0]["conversations"][0]["value"].startswith("<image>黒い車はどこ？結果はJSON形式で出力してください")
    pix = read_jsonl(convert(src, tmp_path / "p.jsonl", "llava", family="qwen3-vl", box_format="pixels")["path"])
    assert json.loads(pix[0]["conversations"][1]["value"])[0]["bbox_2d"] == [10, 20, 50, 60]


def test_swift_and_coco(src: Path, tmp_path: Path):
    convert(src, tmp_path / "swift.jsonl", "swift")
    row = read_jsonl(tmp_path / "swift.jsonl")[0]
    assert row["messages"][1]["content"] == "<bbox><bbox>" and row["images"] == ["data/img/a.png"]
    assert row["objects"] == {"ref": ["黒い車", "黒い車"], "bbox": [[10, 20, 50, 60], [100, 0, 200, 100]]}
    res = convert(src, tmp_path / "coco.json", "coco")
    doc = json.loads((tmp_path / "coco.json").read_text(encoding="utf-8"))
    assert res["written"] == 3 and len(doc["images"]) == 1 and doc["images"][0]["width"] == 400
    assert doc["annotations"][0]["bbox"] == [10, 20, 40, 40] and doc["categories"] == [{"id": 1, "name": "黒い車"}]
    from pycocotools.coco import COCO

    COCO(str(tmp_path / "coco.json"))  # the official loader accepts it
    with pytest.raises(InputError, match="unknown format"):
        convert(src, tmp_path / "x", "yolo")
    assert stored_size(tmp_path / "data" / "img" / "a.png") == (400, 200)
