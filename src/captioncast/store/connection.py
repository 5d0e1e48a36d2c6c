"""One SQLite connection shared by a store's calls: opened in WAL mode with the store's schema,
guarded by a lock, each call run in a worker thread so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from captioncast.errors import StoreError

T = TypeVar("T")


class SqliteConnection:
    """``setup`` creates or migrates the schema when the file is opened; ``what`` names the
    store in errors. ``sqlite3.Error`` from a call becomes ``StoreError``, except the types in
    ``passthrough``, which the store turns into errors of its own."""

    def __init__(
        self,
        path: Path,
        what: str,
        setup: Callable[[sqlite3.Connection], None],
        passthrough: tuple[type[sqlite3.Error], ...] = (),
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.what = what
        self._passthrough = passthrough
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            setup(self._db)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open {what} {path.name}: {exc}") from exc

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in a worker thread, under the lock."""

        def locked() -> T:
            with self._lock:
                try:
                    return fn(self._db)
                except self._passthrough:
                    raise
                except sqlite3.Error as exc:
                    raise StoreError(f"{self.what} failed: {exc}") from exc

        return await asyncio.to_thread(locked)

    async def close(self) -> None:
        """Close the connection (closing twice is harmless)."""
        await self.run(lambda db: db.close())
