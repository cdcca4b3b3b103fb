"""One writer at a time: an exclusive advisory lock on ``write.lock`` in the index directory.

``sahafa index`` and ``sahafa delete`` hold it while they write; a second writer fails at once with a message
naming the holder's pid. Readers (the page, ``sahafa search``) never take it and never write. The kernel
releases the lock when its process ends, however it ends, so a killed writer never leaves the index locked;
the next writer removes the temporary files it may have left.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.config import WRITE_LOCK
from indexer.errors import IndexLocked


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock for the ``with`` block; ``IndexLocked`` if another process holds it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / WRITE_LOCK, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise IndexLocked(
                f"{index_dir} is being written by another sahafa process{pid}; wait for it to finish, then run "
                "this again"
            ) from None
        try:
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            _remove_stale_temporaries(index_dir)
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_temporaries(index_dir: Path) -> None:
    """Temporary files (``config.unique_temporary``) that a killed writer left; only writers make them, so
    while this process holds the lock every one of them is stale."""
    for stale in index_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
