"""Viewer tokens: Ed25519 (EdDSA) JWTs minted and verified here. The only module using jwt.

The signing key is generated on first start and kept in the data dir (mode 0600); its
public half is served as a JWK set at ``/.well-known/jwks.json``. The ``kid`` is the key's
RFC 7638 thumbprint, so it changes exactly when the key does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from captioncast.auth.apikey import write_private
from captioncast.auth.claims import (
    TokenBadSignature,
    TokenClaimsInvalid,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    ViewerClaims,
)
from captioncast.errors import ConfigError

KEY_FILENAME = "jwt_ed25519.pem"
ALGORITHM = "EdDSA"
DEFAULT_ISSUER = "captioncast"
DEFAULT_AUDIENCE = "captioncast"
MAX_TOKEN_LENGTH = 8192
MAX_STREAMS = 100
REQUIRED_CLAIMS = ["streams", "exp", "nbf", "iat", "iss", "aud"]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A signed token and when it expires."""

    token: str
    expires_at: datetime


class TokenAuthority:
    """Mints and verifies viewer tokens with one Ed25519 key."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        leeway: float = 0.0,
    ) -> None:
        self._private = private_key
        self._public = private_key.public_key()
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._x = _b64url(raw)
        thumbprint_input = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":"), sort_keys=True
        )
        self.kid = _b64url(hashlib.sha256(thumbprint_input.encode()).digest())

    @classmethod
    def generate(cls, **options: Any) -> TokenAuthority:
        """An authority with a fresh key that is not saved anywhere (for tests)."""
        return cls(Ed25519PrivateKey.generate(), **options)

    @classmethod
    def in_data_dir(cls, data_dir: Path, **options: Any) -> TokenAuthority:
        """Load the key from ``data_dir``, or generate it there on first start."""
        path = data_dir / KEY_FILENAME
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(path, pem.decode("ascii"))
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigError(f"the token key {KEY_FILENAME} cannot be read: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"the token key {KEY_FILENAME} is not an Ed25519 key")
        return cls(key, **options)

    def jwks(self) -> dict[str, object]:
        """The public key as a JWK set."""
        jwk = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self._x,
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
        }
        return {"keys": [jwk]}

    def mint(
        self,
        streams: Iterable[str],
        ttl: float,
        *,
        now: float | None = None,
        not_before: float | None = None,
    ) -> MintedToken:
        """Sign a token that lets its holder read ``streams`` for ``ttl`` seconds."""
        issued = int(time.time() if now is None else now)
        exp = issued + int(ttl)
        claims = {
            "streams": sorted(set(streams)),
            "iat": issued,
            "nbf": issued if not_before is None else int(not_before),
            "exp": exp,
            "iss": self.issuer,
            "aud": self.audience,
        }
        token = jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})
        return MintedToken(token, datetime.fromtimestamp(exp, UTC))

    def verify(self, token: str) -> ViewerClaims:
        """The claims of a valid token; raises a specific TokenError otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenMalformed("token is empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenMalformed("token is not a JWT") from exc
        if header.get("kid") != self.kid:
            raise TokenBadSignature("token was signed with an unknown key")
        try:
            payload = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenNotYetValid("token is not valid yet") from exc
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as exc:
            raise TokenBadSignature("token signature is not valid") from exc
        except jwt.DecodeError as exc:
            raise TokenMalformed("token cannot be decoded") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenClaimsInvalid(f"token claims are not valid: {exc}") from exc
        return _claims(payload)


def _claims(payload: dict[str, Any]) -> ViewerClaims:
    streams = payload["streams"]
    if (
        not isinstance(streams, list)
        or len(streams) > MAX_STREAMS
        or not all(isinstance(s, str) for s in streams)
    ):
        raise TokenClaimsInvalid("claim 'streams' must be a list of stream names")
    times = [payload[name] for name in ("exp", "nbf", "iat")]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise TokenClaimsInvalid("time claims must be numbers")
    return ViewerClaims(
        streams=frozenset(streams),
        exp=int(payload["exp"]),
        nbf=int(payload["nbf"]),
        iat=int(payload["iat"]),
        iss=str(payload["iss"]),
        aud=str(payload["aud"]),
    )
