"""Helpers for tests that start real servers (Streamlit, milvus-lite) as subprocesses."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Ask ``process`` to end (SIGTERM); kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
