"""Token keys in memory: what each kind signs or verifies, and their PEM and JWK forms.

Three kinds, each bound to exactly one JWT algorithm (a token's ``alg`` header must name the
algorithm of the key its ``kid`` names, so one kind of key is never used as another):

=================  =======  ==========================================================
kind               alg      what
=================  =======  ==========================================================
``ed25519``        EdDSA    our own key pair: signs (when current) and verifies
``ed25519-public`` EdDSA    a registered public key of someone who mints tokens for us
``hs256``          HS256    a shared secret (at least 32 bytes) an integrator signs with
=================  =======  ==========================================================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from captioncast.errors import ConfigError

KeyKind = Literal["ed25519", "ed25519-public", "hs256"]
KEY_KINDS: tuple[KeyKind, ...] = ("ed25519", "ed25519-public", "hs256")
ALGORITHMS: dict[KeyKind, str] = {"ed25519": "EdDSA", "ed25519-public": "EdDSA", "hs256": "HS256"}
KID_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}"  # also a safe file name (thumbprints fit)
MIN_SECRET_BYTES = 32


def check_kid(kid: str) -> str:
    """``kid`` if it is a usable key id (1-64 of ``A-Za-z0-9._-``); raises ConfigError."""
    if not re.fullmatch(KID_PATTERN, kid):
        raise ConfigError(
            f"key id {kid[:80]!r}: use 1-64 letters, digits, '.', '_' or '-', not starting with '.'"
        )
    return kid


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(public: Ed25519PublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint: our ``kid`` for our own keys."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public(public))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(public: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """The public key as a JWK for a JWK set."""
    x = b64url(raw_public(public))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key that verifies tokens whose header names ``kid`` and ``alg``.

    ``issuer`` is the ``iss`` its tokens must carry; None means the authority's own issuer.
    """

    kid: str
    kind: KeyKind
    material: Ed25519PublicKey | bytes = field(repr=False)
    issuer: str | None = None

    @property
    def alg(self) -> str:
        return ALGORITHMS[self.kind]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """Our own Ed25519 key pair; its ``kid`` is the public key's thumbprint."""

    kid: str
    private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> SigningKey:
        return cls(thumbprint(private.public_key()), private)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(Ed25519PrivateKey.generate())

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def verification(self) -> VerificationKey:
        return VerificationKey(self.kid, "ed25519", self.public)

    def pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")


def load_private_pem(data: bytes, name: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; raises ConfigError naming ``name``."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the token key {name} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the token key {name} is not an Ed25519 key")
    return key


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: bytes, name: str) -> tuple[Ed25519PublicKey, str | None]:
    """An Ed25519 public key from PEM or from a JWK (or a JWK set of one key), and the
    JWK's ``kid`` if it has one. Private keys are refused: only the public half is kept."""
    text = data.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        return _from_jwk(text, name)
    if "PRIVATE KEY" in text:
        raise ConfigError(f"{name} holds a private key: register the public key only")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name} is neither a PEM public key nor a JWK: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{name} is not an Ed25519 public key")
    return key, None


def _from_jwk(text: str, name: str) -> tuple[Ed25519PublicKey, str | None]:
    try:
        jwk = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from exc
    if isinstance(jwk, dict) and isinstance(jwk.get("keys"), list) and len(jwk["keys"]) == 1:
        jwk = jwk["keys"][0]
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ConfigError(f"{name} is not an Ed25519 JWK (kty OKP, crv Ed25519)")
    if "d" in jwk:
        raise ConfigError(f"{name} holds a private key: register the public key only")
    x = jwk.get("x")
    try:
        raw = base64.urlsafe_b64decode(str(x) + "=" * (-len(str(x)) % 4))
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{name}: the JWK's x is not an Ed25519 public key") from exc
    kid = jwk.get("kid")
    return key, kid if isinstance(kid, str) else None
