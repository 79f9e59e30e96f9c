"""The forms a training dataset takes (issue 22), read as **shards** of **samples**:

- a folder tree of images: each folder is a shard (a folder of more than
  :data:`FOLDER_SHARD` images is split in order);
- webdataset / img2dataset tar shards: the members of one sample share a name before their
  extension and come together (``000123.jpg``, ``000123.json``, ``000123.txt``); the image is
  the ``.jpg``/``.jpeg``/``.png``/``.webp`` member, the URL and any MD5/SHA-256 come from the
  ``.json``;
- parquet with an image bytes column (a binary column, or a struct with ``bytes`` as Hugging
  Face writes images);
- parquet of metadata only (URL, caption, MD5/SHA-256 columns, as LAION ships): its samples
  have no bytes and are matched by their hashes, before anything is downloaded (Vigil
  downloads nothing: it reads the bytes a user already has).

Nothing is extracted to disk; a member or row that cannot be read is a sample with its
``error``, never a crash."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import UsageError

__all__ = ["FOLDER_SHARD", "IMAGE_EXTENSIONS", "MAX_SAMPLE", "Sample", "Shard", "shards_of"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
FOLDER_SHARD = 10_000  # images of one folder shard
MAX_SAMPLE = 64 * 2**20  # bytes of one image read from a tar or a parquet cell
HASH_COLUMNS = {"md5": ("md5", "MD5", "image_md5", "hash"), "sha256": ("sha256", "SHA256")}
KEY_COLUMNS = ("key", "__key__", "id", "sample_id", "SAMPLE_ID")
URL_COLUMNS = ("url", "URL", "image_url")
BYTES_COLUMNS = ("jpg", "image", "bytes", "img", "png", "webp")


@dataclass
class Sample:
    key: str
    url: str = ""
    data: bytes | None = None  # None: metadata only
    hashes: dict[str, str] = field(default_factory=dict)  # from the dataset's own columns
    error: str | None = None


@dataclass(frozen=True)
class Shard:
    id: str  # stable across runs: what resuming goes by
    kind: str  # folder, tar, parquet
    path: str
    files: tuple[str, ...] = ()  # a folder shard's images

    def samples(self) -> Iterator[Sample]:
        if self.kind == "folder":
            yield from _folder_samples(self)
        elif self.kind == "tar":
            yield from _tar_samples(Path(self.path))
        else:
            yield from _parquet_samples(Path(self.path))

    def has_bytes(self) -> bool:
        """Whether its samples carry images (a parquet of metadata only does not)."""
        if self.kind != "parquet":
            return True
        import pyarrow.parquet as pq

        try:
            return _bytes_column(pq.ParquetFile(self.path).schema_arrow)[0] is not None
        except (OSError, ValueError):
            return True  # unreadable: its samples say so, as errors

    def size_hint(self) -> int | None:
        """How many samples it holds, where that is cheap to know."""
        if self.kind == "folder":
            return len(self.files)
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return None


def shards_of(dataset: Path) -> list[Shard]:
    """The shards of a dataset: a tar or parquet file, or a folder of them, or of images."""
    if not dataset.exists():
        raise UsageError(f"{dataset}: no such file or folder")
    if dataset.is_file():
        kind = {".tar": "tar", ".parquet": "parquet"}.get(dataset.suffix.lower())
        if kind is None:
            raise UsageError(f"{dataset}: a dataset is a folder, a .tar shard or a .parquet file")
        return [Shard(dataset.name, kind, str(dataset))]
    tars = sorted(dataset.rglob("*.tar"))
    parquets = sorted(dataset.rglob("*.parquet"))
    if tars or parquets:
        kinds = [("tar", p) for p in tars] + [("parquet", p) for p in parquets]
        return [Shard(str(p.relative_to(dataset)), kind, str(p)) for kind, p in kinds]
    return _folder_shards(dataset)


def _folder_shards(root: Path) -> list[Shard]:
    by_folder: dict[Path, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            by_folder.setdefault(path.parent, []).append(str(path.relative_to(root)))
    out = []
    for folder, files in by_folder.items():
        name = str(folder.relative_to(root)) or "."
        for n in range(0, len(files), FOLDER_SHARD):
            part = f"{name}#{n // FOLDER_SHARD}" if len(files) > FOLDER_SHARD else name
            out.append(Shard(part, "folder", str(root), tuple(files[n : n + FOLDER_SHARD])))
    return out


def _folder_samples(shard: Shard) -> Iterator[Sample]:
    root = Path(shard.path)
    for rel in shard.files:
        path = root / rel
        try:
            size = path.stat().st_size
            if size > MAX_SAMPLE:
                yield Sample(rel, error=f"{size:,} bytes is over the limit of {MAX_SAMPLE:,}")
                continue
            yield Sample(rel, data=path.read_bytes())
        except OSError as exc:
            yield Sample(rel, error=f"cannot be read: {exc}")


def _meta(raw: bytes) -> tuple[str, dict[str, str]]:
    """URL and hashes from a sample's ``.json`` (img2dataset writes url, key, md5, ...)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return "", {}
    if not isinstance(doc, dict):
        return "", {}
    url = next((str(doc[c]) for c in URL_COLUMNS if doc.get(c)), "")
    hashes = {}
    for kind, names in HASH_COLUMNS.items():
        for name in names:
            value = doc.get(name)
            if isinstance(value, str) and value:
                hashes[kind] = value.lower()
                break
    return url, hashes


def _tar_samples(path: Path) -> Iterator[Sample]:
    current: Sample | None = None
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                stem, _, ext = member.name.rpartition(".")
                ext = f".{ext.lower()}"
                if current is not None and current.key != stem:
                    yield current
                    current = None
                current = current or Sample(stem)
                _tar_member(tar, member, ext, current)
    except (tarfile.TarError, OSError, EOFError) as exc:
        if current is not None:
            yield current
            current = None
        yield Sample(f"{path.name}:<unreadable>", error=f"the tar cannot be read on: {exc}")
    if current is not None:
        yield current


def _tar_member(tar: Any, member: Any, ext: str, sample: Sample) -> None:
    if ext in IMAGE_EXTENSIONS:
        if member.size > MAX_SAMPLE:
            sample.error = f"{member.size:,} bytes is over the limit of {MAX_SAMPLE:,}"
            return
        handle = tar.extractfile(member)
        sample.data = handle.read() if handle is not None else None
    elif ext == ".json" and member.size < 2**20:
        handle = tar.extractfile(member)
        if handle is not None:
            sample.url, sample.hashes = _meta(handle.read())


def _bytes_column(schema: Any) -> tuple[str | None, bool]:
    """The column holding image bytes (and whether it is a struct with ``bytes``), if any."""
    import pyarrow as pa

    names = list(schema.names)
    ordered = [n for n in BYTES_COLUMNS if n in names] + names
    for name in ordered:
        kind = schema.field(name).type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return name, False
        if pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0:
            return name, True
    return None, False


def _parquet_samples(path: Path) -> Iterator[Sample]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        yield Sample(f"{path.name}:<unreadable>", error=f"not a readable parquet file: {exc}")
        return
    schema = source.schema_arrow
    names = set(schema.names)
    image, struct = _bytes_column(schema)
    key = next((c for c in KEY_COLUMNS if c in names), None)
    url = next((c for c in URL_COLUMNS if c in names), None)
    hashes = {k: next((c for c in cs if c in names), None) for k, cs in HASH_COLUMNS.items()}
    row = 0
    for batch in source.iter_batches(batch_size=256):
        cols = batch.to_pydict()
        for i in range(batch.num_rows):
            sample = Sample(str(cols[key][i]) if key else f"{path.name}:{row}")
            sample.url = str(cols[url][i] or "") if url else ""
            sample.hashes = {k: str(cols[c][i]).lower() for k, c in hashes.items()
                             if c and cols[c][i]}  # fmt: skip
            if image is not None:
                cell = cols[image][i]
                data = cell.get("bytes") if struct and isinstance(cell, dict) else cell
                if data is not None and len(data) > MAX_SAMPLE:
                    sample.error = f"{len(data):,} bytes is over the limit of {MAX_SAMPLE:,}"
                else:
                    sample.data = data
            row += 1
            yield sample
