from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``captioncast serve`` with the default model, shared by a test module."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def wire_schema() -> dict[str, object]:
    from captioncast.schema import load_schema

    return load_schema()


@pytest.fixture(scope="session")
def garbage_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("garbage") / "noise.bin"
    path.write_bytes(bytes(range(256)) * 64)
    return path
