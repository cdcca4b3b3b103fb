"""The index directory's fixed file names and its ``config.json``."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.errors import IndexMismatch, IndexNotFound
from indexer.normalize import NORMALIZER_VERSION
from indexer.passages import PassageSettings

FORMAT_VERSION = 1
DEFAULT_ENCODER = "e5-use"
CONFIG_FILE = "config.json"
DATABASE_FILE = "sahafa.sqlite"
VECTORS_FILE = "vectors.faiss"
VECTORS_STAMP = "vectors.json"
SENTENCES_FILE = "sentences.faiss"
SENTENCES_STAMP = "sentences.json"
WRITE_LOCK = "write.lock"
PASSAGE_FIELDS = {"min_words": 0, "max_words": 1, "overlap_sentences": 0}  # each with its least value


@dataclass(frozen=True)
class IndexConfig:
    """What an index was built with; an index only opens with the same encoder and normaliser."""

    encoder: str
    dim: int
    format_version: int = FORMAT_VERSION
    normalizer_version: int = NORMALIZER_VERSION
    passages: PassageSettings = field(default_factory=PassageSettings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: object) -> IndexConfig:
        """The config from parsed JSON; raises ValueError saying which value is wrong."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        passages = data.get("passages", {})
        if not isinstance(passages, dict):
            raise ValueError("'passages' is not an object")
        return cls(
            encoder=_text(data, "encoder"),
            dim=_count(data, "dim", 1),
            format_version=_count(data, "format_version", 0),
            normalizer_version=_count(data, "normalizer_version", 0),
            passages=PassageSettings(
                **{name: _count(passages, name, least) for name, least in PASSAGE_FIELDS.items() if name in passages}
            ),
        )


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} is {_shown(value)}, not a name")
    return value


def _count(data: dict, name: str, least: int) -> int:
    value = data.get(name)
    if type(value) is not int or not least <= value < 2**31:
        raise ValueError(f"{name!r} is {_shown(value)}, not a whole number from {least}")
    return value


def _shown(value: object) -> str:
    return "missing" if value is None else repr(value)[:40]


@dataclass(frozen=True)
class RuntimeChoice:
    """``--device`` / ``--precision`` as asked (None lets the machine choose, ``encoders.resolve_runtime``), and
    ``--ray``: embed on Ray Data actors."""

    device: str | None = None
    precision: str | None = None
    ray: bool = False


def read_config(index_dir: Path) -> IndexConfig:
    path = Path(index_dir) / CONFIG_FILE
    if not path.is_file():
        raise IndexNotFound(
            f"no Sahafa index at {index_dir}: build one with: sahafa index SOURCE... --index {index_dir}"
        )
    try:
        return IndexConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise IndexMismatch(f"{path} is unreadable ({_reason(exc)}); {rebuild_hint(index_dir)}") from exc


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split("\n")[0][:200]


def write_config(index_dir: Path, config: IndexConfig) -> None:
    path = Path(index_dir) / CONFIG_FILE
    tmp = unique_temporary(path)
    tmp.write_text(config.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def unique_temporary(path: Path) -> Path:
    """A temporary name beside ``path`` that no other process or thread uses: ``.NAME.PID.RANDOM.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def rebuild_hint(index_dir: Path, encoder: str | None = None) -> str:
    flag = f" --encoder {encoder}" if encoder else ""
    return f"rebuild it: rm -r {index_dir} && sahafa index SOURCE... --index {index_dir}{flag}"


def check_compatible(index_dir: Path, config: IndexConfig, encoder: str | None = None) -> None:
    """Fail with how-to-rebuild when the index was built by another format, normaliser or encoder."""
    if config.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"index at {index_dir} has format version {config.format_version}, this Sahafa reads "
            f"{FORMAT_VERSION}; {rebuild_hint(index_dir, config.encoder)}"
        )
    if config.normalizer_version != NORMALIZER_VERSION:
        raise IndexMismatch(
            f"index at {index_dir} was normalised with normaliser version {config.normalizer_version}, "
            f"this Sahafa uses {NORMALIZER_VERSION}; {rebuild_hint(index_dir, config.encoder)}"
        )
    if encoder is not None and encoder != config.encoder:
        raise IndexMismatch(
            f"index at {index_dir} was built with encoder {config.encoder!r} ({config.dim}-d), not {encoder!r}; "
            f"use --encoder {config.encoder}, or {rebuild_hint(index_dir, encoder)}"
        )


def check_dimension(index_dir: Path, config: IndexConfig, encoder: str, dim: int) -> None:
    """Fail with how-to-rebuild when ``config.json`` records another vector size than the encoder makes."""
    if dim != config.dim:
        raise IndexMismatch(
            f"index at {index_dir} records {config.dim}-d vectors, but encoder {encoder!r} makes {dim}-d ones; "
            f"{rebuild_hint(index_dir, encoder)}"
        )
