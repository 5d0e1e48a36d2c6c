"""The token key ring: the keys in memory (:class:`KeyRing`) and on disk (:class:`KeyRingDir`).

On disk, ``<data>/keys/`` (mode 0700) holds the manifest ``keys.json`` (see
:mod:`captioncast.auth.manifest`) and one file per key, each mode 0600:

- ``<kid>.pem``: our own Ed25519 private key (PKCS#8); its ``kid`` is its RFC 7638 thumbprint;
- ``<kid>.pub.pem``: a registered external Ed25519 public key;
- ``<kid>.hs256``: a shared HS256 secret, the raw bytes.

The first start creates the ring: from the single ``jwt_ed25519.pem`` of older installs when
there is one (same key, same ``kid``, so tokens minted before the upgrade stay valid; the old
file is left in place but no longer read), else from a new key. Changes take a lock file and
write the manifest last, atomically, so a server reading the ring never sees a key listed
before its file exists.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from captioncast.auth.keys import (
    MIN_SECRET_BYTES,
    SigningKey,
    VerificationKey,
    check_kid,
    load_private_pem,
    load_public_key,
    public_jwk,
    public_pem,
    thumbprint,
)
from captioncast.auth.manifest import KeyEntry, Manifest, check_issuer
from captioncast.errors import ConfigError

KEYS_DIRNAME = "keys"
MANIFEST_FILENAME = "keys.json"
LEGACY_KEY_FILENAME = "jwt_ed25519.pem"
_LOCK_FILENAME = ".lock"


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys an authority uses: ``signing`` signs; every key in ``keys`` verifies.

    ``published`` lists the kids of our own Ed25519 keys, the current one first: the keys of
    the JWK set. Registered external keys and HS256 secrets are never published.
    """

    signing: SigningKey
    keys: Mapping[str, VerificationKey] = field(default_factory=dict)
    published: tuple[str, ...] = ()

    @classmethod
    def single(cls, signing: SigningKey) -> KeyRing:
        """A ring of one key (tests, and installs that keep keys elsewhere)."""
        return cls(signing, {signing.kid: signing.verification()}, (signing.kid,))

    def get(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)

    def jwks(self) -> dict[str, object]:
        """Our public keys as a JWK set, the current one first."""
        out = []
        for kid in self.published:
            material = self.keys[kid].material
            assert not isinstance(material, bytes)
            out.append(public_jwk(material, kid))
        return {"keys": out}


class KeyRingDir:
    """The key ring in ``<data_dir>/keys/``: load it, and make the changes the CLI offers."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / KEYS_DIRNAME
        self.manifest_path = self.path / MANIFEST_FILENAME

    def manifest(self) -> Manifest:
        """The manifest, creating the ring first if there is none."""
        if not self.manifest_path.exists():
            with self._locked():
                return self._manifest_locked()
        return self._read_manifest()

    def load(self) -> KeyRing:
        """The active keys, read from their files; raises ConfigError on a missing or bad one."""
        manifest = self.manifest()
        keys: dict[str, VerificationKey] = {}
        signing: SigningKey | None = None
        for entry in manifest.entries:
            if not entry.active:
                continue
            if entry.kind == "ed25519":
                key = self._signing_key(entry)
                keys[entry.kid] = key.verification()
                signing = key if entry.kid == manifest.current else signing
            elif entry.kind == "ed25519-public":
                public, _ = load_public_key(self._read(entry), entry.filename)
                keys[entry.kid] = VerificationKey(entry.kid, entry.kind, public, entry.issuer)
            else:
                secret = self._read(entry)
                if len(secret) < MIN_SECRET_BYTES:
                    raise ConfigError(f"the HS256 secret {entry.filename} is too short")
                keys[entry.kid] = VerificationKey(entry.kid, entry.kind, secret, entry.issuer)
        assert signing is not None  # Manifest checks that the current key is active ed25519
        own = [e.kid for e in reversed(manifest.entries) if e.active and e.kind == "ed25519"]
        published = (manifest.current, *(kid for kid in own if kid != manifest.current))
        return KeyRing(signing, keys, published)

    def stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever the manifest is rewritten (None while there is none)."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def rotate(self) -> SigningKey:
        """Add a new Ed25519 key and make it current; the previous ones keep verifying."""
        with self._locked():
            manifest = self._manifest_locked()
            key = SigningKey.generate()
            _write_private(self.path / f"{key.kid}.pem", key.pem().encode("ascii"))
            self._save(manifest.rotated(KeyEntry(key.kid, "ed25519", _now())))
        return key

    def retire(self, kid: str) -> KeyEntry:
        """Stop accepting tokens signed with ``kid`` (its file stays; delete it if you like)."""
        with self._locked():
            manifest = self._manifest_locked().retire(kid, _now())
            self._save(manifest)
        entry = manifest.entry(kid)
        assert entry is not None
        return entry

    def add_hs256(self, kid: str, secret: bytes | None = None, issuer: str | None = None) -> bytes:
        """Register a shared HS256 secret (a new random one when None); returns the secret."""
        entry = KeyEntry(check_kid(kid), "hs256", _now(), issuer=check_issuer(issuer))
        if secret is None:
            secret = secrets.token_urlsafe(32).encode("ascii")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"an HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        if b"-----BEGIN" in secret or secret.startswith(b"ssh-"):
            # a key file given by mistake; a public key as an HMAC secret is the classic
            # algorithm-confusion attack, and the JWT library refuses such secrets anyway
            raise ConfigError("that is a PEM or SSH key, not a shared secret")
        self._add(entry, secret)
        return secret

    def add_public(
        self, data: bytes, name: str, kid: str | None = None, issuer: str | None = None
    ) -> KeyEntry:
        """Register an external Ed25519 public key given as PEM or JWK (``name`` is for
        messages). ``kid`` defaults to the JWK's ``kid``, else the key's thumbprint."""
        public, jwk_kid = load_public_key(data, name)
        kid = check_kid(kid or jwk_kid or thumbprint(public))
        entry = KeyEntry(kid, "ed25519-public", _now(), issuer=check_issuer(issuer))
        self._add(entry, public_pem(public).encode("ascii"))
        return entry

    def _add(self, entry: KeyEntry, content: bytes) -> None:
        with self._locked():
            manifest = self._manifest_locked().added(entry)
            path = self.path / entry.filename
            path.unlink(missing_ok=True)  # left over from a failed add (not in the manifest)
            _write_private(path, content)
            self._save(manifest)

    def _manifest_locked(self) -> Manifest:
        if not self.manifest_path.exists():
            self._create()
        return self._read_manifest()

    def _read_manifest(self) -> Manifest:
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"the key manifest cannot be read: {exc}") from exc
        return Manifest.from_json(text)

    def _create(self) -> None:
        legacy = self.data_dir / LEGACY_KEY_FILENAME
        if legacy.exists():
            key = SigningKey.of(load_private_pem(legacy.read_bytes(), LEGACY_KEY_FILENAME))
            created = _now(legacy.stat().st_mtime)
        else:
            key, created = SigningKey.generate(), _now()
        path = self.path / f"{key.kid}.pem"
        if not path.exists():  # else: a start that failed after writing it
            _write_private(path, key.pem().encode("ascii"))
        self._save(Manifest(key.kid, (KeyEntry(key.kid, "ed25519", created),)))

    def _signing_key(self, entry: KeyEntry) -> SigningKey:
        key = SigningKey.of(load_private_pem(self._read(entry), entry.filename))
        if key.kid != entry.kid:
            raise ConfigError(f"the key {entry.filename} does not match its kid")
        return key

    def _read(self, entry: KeyEntry) -> bytes:
        try:
            return (self.path / entry.filename).read_bytes()
        except OSError as exc:
            raise ConfigError(f"the token key {entry.filename} cannot be read: {exc}") from exc

    def _save(self, manifest: Manifest) -> None:
        temporary = self.path / f".{MANIFEST_FILENAME}.{os.getpid()}.tmp"
        temporary.unlink(missing_ok=True)
        _write_private(temporary, manifest.to_json().encode("utf-8"))
        os.replace(temporary, self.manifest_path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serializes changes between processes (two operators, or a CLI and a first start)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path / _LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _write_private(path: Path, content: bytes) -> None:
    """Create ``path`` readable by its owner only (0600), flushed to disk; never overwrites."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


def _now(timestamp: float | None = None) -> str:
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
