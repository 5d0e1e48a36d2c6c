"""The management API key: from ``CAPTIONCAST_API_KEY`` or generated once into the data dir."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from captioncast.errors import ConfigError

API_KEY_ENV = "CAPTIONCAST_API_KEY"
API_KEY_FILENAME = "api_key"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The key management calls must present as ``Authorization: Bearer <key>``.

    ``source`` says where it came from; ``generated`` means it was just created, and the
    caller should print it once so the operator can copy it.
    """

    value: str = field(repr=False)
    source: Literal["env", "file", "generated"]

    @property
    def generated(self) -> bool:
        return self.source == "generated"

    def matches(self, given: str) -> bool:
        """Constant-time comparison with ``given``."""
        return hmac.compare_digest(given.encode(), self.value.encode())


def load_api_key(data_dir: Path, environ: Mapping[str, str] | None = None) -> ApiKey:
    """The API key from the environment, else from ``data_dir``, else a new one saved there.

    A generated key is written with file mode 0600. Raises ConfigError on an empty key.
    """
    env = os.environ if environ is None else environ
    value, source = load_secret(
        data_dir,
        API_KEY_FILENAME,
        env.get(API_KEY_ENV),
        given_empty=f"{API_KEY_ENV} is set but empty",
        file_empty=f"the API key file {API_KEY_FILENAME} in the data dir is empty",
        generate=lambda: secrets.token_urlsafe(32),
    )
    return ApiKey(value, "env" if source == "given" else source)


SecretSource = Literal["given", "file", "generated"]


def load_secret(
    data_dir: Path,
    filename: str,
    given: str | None,
    *,
    given_empty: str,
    file_empty: str,
    generate: Callable[[], str],
) -> tuple[str, SecretSource]:
    """A secret ``given`` by the operator if set, else the one kept in ``data_dir/filename``,
    else a new one from ``generate``, saved there with mode 0600. Raises ConfigError (with
    ``given_empty`` or ``file_empty``) on an empty secret."""
    if given is not None:
        if not given.strip():
            raise ConfigError(given_empty)
        return given.strip(), "given"
    path = data_dir / filename
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if not stored:
            raise ConfigError(file_empty)
        return stored, "file"
    data_dir.mkdir(parents=True, exist_ok=True)
    value = generate()
    write_private(path, value + "\n")
    return value, "generated"


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600); refuses to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
