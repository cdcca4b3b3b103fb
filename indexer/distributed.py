"""``sahafa index --ray``: the run's embedding done by a pool of Ray Data actors, with the vectors one process
would make.

``indexer.build`` first plans the run: for every batch, the passage and sentence texts that the single-process
path would embed (neither stored nor embedded earlier in the run), in the same groups. Ray Data runs those
groups through ``map_batches`` with an actor pool (each actor loads the encoder once), one group per call, so
every encoder call sees exactly the texts it would have seen in one process and gives the same vectors. The
pipeline then writes as usual, taking each vector from the results by its text's hash.

Ray runs locally (``ray.init(num_cpus=...)``), with authentication off for the local cluster, its temporary
files in a fresh directory in the index (or the system's temporary directory when the index's path is too long
for Ray's socket names), removed afterwards, and ``ray.shutdown()`` however the run ends.
Nothing but the actors asks for whole CPUs, so reading and collecting never wait behind them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import MissingDependency
from indexer.sentences import quantize

SHORT_PATH = 40  # longest directory that Ray's socket paths (~65 bytes more) fit under


@dataclass(frozen=True)
class Group:
    """Texts that one encoder call embeds: ``kind`` is ``passage`` or ``sentence``."""

    kind: str
    texts: list[str]


class _Encode:
    """A Ray actor: the encoder loaded once, then one group of texts per call."""

    def __init__(self, encoder: str, device: str | None, precision: str | None, threads: int) -> None:
        import torch

        from indexer.encoders import SentenceEncoder, load_encoder

        torch.set_num_threads(threads)  # as many as one process would use: sums add up in the same order

        self.encoder = load_encoder(encoder, device=device, precision=precision)
        self.sentences = SentenceEncoder(self.encoder, device=device, precision=precision)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list]:
        vectors = []
        for kind, texts in zip(rows["kind"], rows["texts"], strict=True):
            texts = [str(t) for t in texts]
            if kind == "passage":
                vectors.append(self.encoder.encode_passages(texts).astype(np.float32))
            else:
                vectors.append(quantize(self.sentences.encode(texts)))
        return {"group": list(rows["group"]), "vectors": vectors}


def embed_groups(
    groups: Sequence[Group],
    encoder: str,
    *,
    device: str | None,
    precision: str | None,
    work_dir: Path,
    cpus: int | None = None,
    actors: int = 1,
) -> list[np.ndarray]:
    """Each group's vectors (float32 for passages, int8 codes for sentences), one row per text, in order."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependency("sahafa index --ray needs Ray Data: pip install 'ray[data]'") from None
    if not groups:
        return []
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ notices would reach the user's terminal
    # Ray's sockets live under its temporary directory, and a socket path may not pass 107 bytes.
    base = work_dir if len(str(Path(work_dir).resolve())) <= SHORT_PATH else Path(tempfile.gettempdir())
    temp = Path(tempfile.mkdtemp(prefix=".ray-", dir=base))
    cpus = cpus or os.cpu_count() or 1
    ray.init(
        num_cpus=cpus, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False, logging_level=logging.WARNING
    )
    try:
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        rows = [{"group": i, "kind": g.kind, "texts": g.texts} for i, g in enumerate(groups)]
        dataset = ray.data.from_items(rows).map_batches(
            _Encode,
            fn_constructor_kwargs={
                "encoder": encoder,
                "device": device,
                "precision": precision,
                "threads": _threads(cpus // actors),
            },
            batch_size=1,
            concurrency=actors,
            num_cpus=max(1, cpus // actors),
        )
        found: list[np.ndarray | None] = [None] * len(groups)
        for row in dataset.iter_rows():
            found[int(row["group"])] = np.asarray(row["vectors"])
        missing = [i for i, vectors in enumerate(found) if vectors is None]
        if missing:
            raise RuntimeError(f"Ray Data returned no vectors for {len(missing)} of {len(groups)} groups")
        return [v for v in found if v is not None]
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _threads(default: int) -> int:
    """The torch threads this process embeds with (or would: torch not loaded yet reads OMP_NUM_THREADS)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    return int(os.environ.get("OMP_NUM_THREADS") or default)
