"""Corpus shards in and out: WebDataset tar, Parquet, and JSONL + image folders.

A corpus is a list of shard files; each shard holds samples. A :class:`Sample` is one alt-text pair (one image,
its alt text) or one interleaved document (its text and its images). Readers never stop on a bad row: a row
that cannot be read becomes a sample with ``error`` set (the pipeline records it in the side table), and an
image file that is missing becomes an :class:`ImageItem` with ``error`` set.

Layouts (read and written):

- **WebDataset tar** (``*.tar``): members grouped by key (the member name up to its first dot, folders kept),
  consecutive as WebDataset writes them. ``KEY.txt`` is the text, ``KEY.json`` extra fields (``url`` /
  ``urls``, anything else is kept in ``meta``), ``KEY.jpg`` the image of a pair, ``KEY.0.jpg``, ``KEY.1.png``
  ... the images of a document in order.
- **Parquet** (``*.parquet``): one row per sample, columns ``id``, ``text`` and either ``image`` (binary),
  ``image_name``, ``url`` (pairs) or ``images`` (list of binary), ``image_names``, ``urls`` (documents).
  Other columns are kept in ``meta``.
- **JSONL** (``*.jsonl``): one object a line, ``{"id", "text", "image": "rel/path.jpg", "url": ...}`` or
  ``{"id", "text", "images": [...], "urls": [...]}`` with image paths relative to the JSONL file's folder;
  a line of tenken's training-data format (:mod:`tenken.data.format`) is read too (its text is the assistant
  turns' text). Curated JSONL shards are **written** in the training-data format (images copied next to it).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tenken.core.artifacts import LoadReport, iter_jsonl, json_text, write_atomic, write_jsonl
from tenken.core.errors import InputError

ShardKind = Literal["wds", "parquet", "jsonl"]
SUFFIX_KIND: dict[str, ShardKind] = {".tar": "wds", ".parquet": "parquet", ".jsonl": "jsonl"}
IMAGE_EXTS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "svg", "ico", "avif", "heic"})
"""Member/file extensions read as images (the format filter then keeps only the allowed ones)."""
_TEXT_EXTS = ("txt", "text", "caption")


@dataclass
class ImageItem:
    """One image of a sample: its encoded bytes (``None`` when they could not be read, see ``error``)."""

    name: str
    data: bytes | None
    url: str | None = None
    error: str | None = None


@dataclass
class Sample:
    """One alt-text pair (one image) or interleaved document (its text, its images), as read from a shard.

    ``id`` is unique within the corpus (the shard name is prefixed when the shard gives no id); ``meta`` holds
    the row's other fields, written back unchanged.
    """

    id: str
    text: str
    images: list[ImageItem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Shard:
    """One shard file and its layout."""

    path: Path
    kind: ShardKind

    @property
    def name(self) -> str:
        """The file name (unique within a corpus: two inputs with one name are refused by :func:`find_shards`)."""
        return self.path.name


def shard_kind(path: Path) -> ShardKind:
    """The layout of a shard file from its suffix.

    Raises:
        InputError: the suffix is not .tar, .parquet or .jsonl.
    """
    try:
        return SUFFIX_KIND[path.suffix.lower()]
    except KeyError:
        raise InputError(f"{path}: not a shard (expected .tar, .parquet or .jsonl)") from None


def find_shards(inputs: list[Path]) -> list[Shard]:
    """The shards named by ``inputs`` (files, or folders searched for shard files, sorted by name).

    Raises:
        InputError: an input is missing, a folder holds no shard, or two shards share a file name.
    """
    shards: list[Shard] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIX_KIND)
            if not found:
                raise InputError(f"{p}: folder holds no .tar, .parquet or .jsonl shard")
            shards += [Shard(f, shard_kind(f)) for f in found]
        elif p.is_file():
            shards.append(Shard(p, shard_kind(p)))
        else:
            raise InputError(f"{p}: file not found")
    names = [s.name for s in shards]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"shard file names must be unique (outputs are named after them): {', '.join(dup)}")
    return shards


def read_shard(shard: Shard) -> Iterator[Sample]:
    """The samples of one shard, in stored order (bad rows come out as samples with ``error`` set).

    Raises:
        InputError: the shard file itself cannot be opened (not a tar / Parquet file).
    """
    readers = {"wds": _read_tar, "parquet": _read_parquet, "jsonl": _read_jsonl}
    return readers[shard.kind](shard.path)


def _split_member(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    key, _, ext = base.partition(".")
    return (f"{folder}/{key}" if folder else key), ext.lower()


def _tar_sample(key: str, members: dict[str, bytes]) -> Sample:
    meta: dict[str, Any] = {}
    if "json" in members:
        try:
            loaded = json.loads(members["json"].decode("utf-8"))
            meta = loaded if isinstance(loaded, dict) else {"json": loaded}
        except (UnicodeDecodeError, ValueError) as exc:
            return Sample(key, "", meta={}, error=f"{key}.json: not valid JSON ({exc})")
    text_ext = next((e for e in _TEXT_EXTS if e in members), None)
    try:
        text = members[text_ext].decode("utf-8") if text_ext else str(meta.pop("text", ""))
    except UnicodeDecodeError:
        return Sample(key, "", meta=meta, error=f"{key}.{text_ext}: not UTF-8 text")
    exts = sorted((e for e in members if e.rpartition(".")[2] in IMAGE_EXTS), key=_image_order)
    urls = meta.pop("urls", None) or ([meta.pop("url")] if "url" in meta else [])
    images = [
        ImageItem(f"{key.rpartition('/')[2]}.{e}", members[e], urls[i] if i < len(urls) else None)
        for i, e in enumerate(exts)
    ]
    return Sample(str(meta.pop("id", key)), text, images, meta)


def _image_order(ext: str) -> tuple[int, str]:
    head = ext.partition(".")[0]
    return (int(head), ext) if head.isdigit() else (-1, ext)


def _read_tar(path: Path) -> Iterator[Sample]:
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115  # closed by the with below; opening errors are the user's
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{path}: not a readable tar file ({exc})") from None
    with tar:
        key: str | None = None
        members: dict[str, bytes] = {}
        try:
            for m in tar:
                if not m.isfile():
                    continue
                k, ext = _split_member(m.name)
                if k != key and key is not None:
                    yield _tar_sample(key, members)
                    members = {}
                key = k
                fh = tar.extractfile(m)
                members[ext] = fh.read() if fh is not None else b""
        except (tarfile.TarError, OSError, EOFError) as exc:  # truncated: samples read so far stand, the cut one is bad
            yield Sample(key or f"{path.name}:truncated", "", error=f"{path}: tar ends early in sample {key!r} ({exc})")
            return
        if key is not None:
            yield _tar_sample(key, members)


def _read_parquet(path: Path) -> Iterator[Sample]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    rows = (row for batch in parquet.iter_batches(batch_size=256) for row in batch.to_pylist())  # bounded memory
    for n, row in enumerate(rows):
        sid = str(row.pop("id", None) or f"{path.name}:{n}")
        text = row.pop("text", None)
        if "images" in row:
            blobs = row.pop("images") or []
            names = row.pop("image_names", None) or [f"{i}.jpg" for i in range(len(blobs))]
            urls = row.pop("urls", None) or []
        else:
            blobs = [row.pop("image", None)]
            names = [row.pop("image_name", None) or "image.jpg"]
            urls = [row.pop("url", None)]
        images = [
            ImageItem(str(nm), b, urls[i] if i < len(urls) else None, None if b else "no image bytes")
            for i, (nm, b) in enumerate(zip(names, blobs, strict=False))
        ]
        error = None if isinstance(text, str) else f"row {n}: no text"
        yield Sample(sid, text or "", images, row, error)


def _read_jsonl(path: Path) -> Iterator[Sample]:
    report = LoadReport()
    for n, row in iter_jsonl(path, report):
        while report.skipped:  # malformed lines are recorded by the reader; surface them as bad samples
            s = report.skipped.pop(0)
            yield Sample(f"{path.name}:{s.line}", "", error=f"{path}:{s.line}: {s.reason}")
        yield _jsonl_sample(path, n, row)
    for s in report.skipped:
        yield Sample(f"{path.name}:{s.line}", "", error=f"{path}:{s.line}: {s.reason}")


def _jsonl_sample(path: Path, n: int, row: dict[str, Any]) -> Sample:
    sid = str(row.pop("id", None) or f"{path.name}:{n}")
    if "messages" in row:  # a training-data-format line
        msgs = row.pop("messages") or []
        text = "\n".join(m.get("content", "") for m in msgs if m.get("role") == "assistant").replace("<image>", "")
        paths = row.pop("images", []) or []
        prov = row.pop("provenance", None) or {}
        urls = prov.get("urls") or []
        row = prov.get("source") or {}  # what the curated shard's source row carried (written by ShardWriter)
    else:
        text = row.pop("text", None)
        if not isinstance(text, str):
            return Sample(sid, "", error=f"{path}:{n}: no 'text' string")
        paths = row.pop("images", None) or ([row.pop("image")] if "image" in row else [])
        urls = row.pop("urls", None) or ([row.pop("url")] if "url" in row else [])
    images = []
    for i, rel in enumerate(paths):
        file = Path(str(rel)).expanduser()
        file = file if file.is_absolute() else path.parent / file
        url = urls[i] if i < len(urls) else None
        try:
            images.append(ImageItem(file.name, file.read_bytes(), url))
        except OSError as exc:
            images.append(ImageItem(file.name, None, url, f"{file}: cannot be read ({exc.strerror or exc})"))
    return Sample(sid, text, images, row)


class ShardWriter:
    """Write curated samples to a shard of a given layout (use as a context manager; the file appears whole on
    exit, written atomically).

    ``mode`` ``"pairs"`` writes one image per sample (``KEY.jpg`` / ``image`` column / a caption sample);
    ``"interleaved"`` writes image lists (``KEY.0.jpg`` ... / ``images`` column / one assistant turn whose text
    has an ``<image>`` mark where each image goes). JSONL shards are training-data-format lines with images
    copied to ``<stem>_images/`` beside the file.
    """

    def __init__(self, path: Path, kind: ShardKind, mode: Literal["pairs", "interleaved"]) -> None:
        self.path, self.kind, self.mode = path, kind, mode
        self._rows: list[tuple[Sample, str, dict[str, Any]]] = []

    def add(self, sample: Sample, text: str, provenance: dict[str, Any]) -> None:
        """Queue ``sample`` with its curated ``text`` (for documents: with ``<image>`` marks where the images go,
        in the order of ``sample.images``) and its ``provenance`` (filters passed, scores)."""
        self._rows.append((sample, text, provenance))

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            {"wds": self._write_tar, "parquet": self._write_parquet, "jsonl": self._write_jsonl}[self.kind]()

    def _write_tar(self) -> None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for n, (s, text, prov) in enumerate(self._rows):
                key = f"{n:08d}"
                meta = {"id": s.id, **s.meta, "urls": [im.url for im in s.images], "provenance": prov}
                files = {f"{key}.txt": text.encode("utf-8"), f"{key}.json": json_text(meta).encode("utf-8")}
                for i, im in enumerate(s.images):
                    ext = im.name.rpartition(".")[2].lower() or "jpg"
                    files[f"{key}.{ext}" if self.mode == "pairs" else f"{key}.{i}.{ext}"] = im.data or b""
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        write_atomic(self.path, buf.getvalue())

    def _write_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = []
        for s, text, prov in self._rows:
            row: dict[str, Any] = {"id": s.id, "text": text}
            if self.mode == "pairs":
                im = s.images[0]
                row |= {"image": im.data, "image_name": im.name, "url": im.url}
            else:
                row |= {
                    "images": [im.data for im in s.images],
                    "image_names": [im.name for im in s.images],
                    "urls": [im.url for im in s.images],
                }
            rows.append(row | {"provenance": json_text(prov)})
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buf)
        write_atomic(self.path, buf.getvalue())

    def _write_jsonl(self) -> None:
        folder = self.path.with_name(self.path.stem + "_images")
        lines = []
        for n, (s, text, prov) in enumerate(self._rows):
            rels = []
            for i, im in enumerate(s.images):
                rel = f"{folder.name}/{n:08d}_{i}.{im.name.rpartition('.')[2].lower() or 'jpg'}"
                write_atomic(self.path.parent / rel, im.data or b"")
                rels.append(rel)
            if self.mode == "pairs":
                msgs = [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": text}]
            else:
                msgs = [{"role": "assistant", "content": text}]
            lines.append(
                {
                    "id": s.id,
                    "images": rels,
                    "messages": msgs,
                    "task": "caption" if self.mode == "pairs" else "interleaved",
                    "lang": "ja",
                    "provenance": {"recipe": "curate", **prov, "urls": [im.url for im in s.images], "source": s.meta},
                }
            )
        write_jsonl(self.path, lines)
