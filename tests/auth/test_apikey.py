from __future__ import annotations

import stat
from pathlib import Path

import pytest

from captioncast.auth.apikey import API_KEY_ENV, API_KEY_FILENAME, load_api_key
from captioncast.errors import ConfigError


def test_generated_once_then_read_back(tmp_path: Path) -> None:
    key = load_api_key(tmp_path / "data", environ={})
    assert key.generated and len(key.value) >= 40
    path = tmp_path / "data" / API_KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_api_key(tmp_path / "data", environ={})
    assert again.value == key.value and again.source == "file" and not again.generated
    assert key.value not in repr(key)


def test_environment_wins(tmp_path: Path) -> None:
    key = load_api_key(tmp_path, environ={API_KEY_ENV: " s3cret "})
    assert key.source == "env" and key.value == "s3cret"
    assert not (tmp_path / API_KEY_FILENAME).exists()
    with pytest.raises(ConfigError):
        load_api_key(tmp_path, environ={API_KEY_ENV: "  "})


def test_matches_exactly(tmp_path: Path) -> None:
    key = load_api_key(tmp_path, environ={API_KEY_ENV: "s3cret"})
    assert key.matches("s3cret")
    assert not key.matches("s3cre")
    assert not key.matches("s3cret ")
    assert not key.matches("")
