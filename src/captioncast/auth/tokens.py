"""Viewer tokens: JWTs minted and verified here. The only module using jwt.

Tokens are signed with the key ring's current Ed25519 key (EdDSA) and verified with whichever
key of the ring their ``kid`` header names (see :mod:`captioncast.auth.keyring`). A token's
``alg`` must be the one algorithm of that key, so an HS256 token naming an Ed25519 key (or
the reverse) is refused, and so is ``alg: none``. Our public keys are served as a JWK set at
``/.well-known/jwks.json``.

An authority read from a data dir notices changes to its key ring (``captioncast keys …``)
while running: it re-reads the manifest when it has changed, checking at most every
``reload_interval`` seconds, and at most every second when a token names an unknown key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from captioncast.auth.claims import (
    TokenBadSignature,
    TokenClaimsInvalid,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    ViewerClaims,
    require_origin,
)
from captioncast.auth.keyring import KeyRing, KeyRingDir
from captioncast.auth.keys import SigningKey, VerificationKey
from captioncast.auth.origins import OriginPattern, OriginPatternError, parse_patterns
from captioncast.errors import CaptioncastError

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
DEFAULT_ISSUER = "captioncast"
DEFAULT_AUDIENCE = "captioncast"
MAX_TOKEN_LENGTH = 8192
MAX_STREAMS = 100
REQUIRED_CLAIMS = ["streams", "exp", "nbf", "iat", "iss", "aud"]
UNKNOWN_KID_RELOAD_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A signed token, when it expires, and the id of the key that signed it."""

    token: str
    expires_at: datetime
    kid: str


class TokenAuthority:
    """Mints viewer tokens with the ring's current key and verifies them with any of its keys.

    ``issuer`` and ``audience`` are the ``iss`` and ``aud`` of our tokens; tokens of a
    registered key with its own issuer must carry that ``iss`` instead, and every token the
    ``audience``. ``leeway`` (seconds) tolerates clock skew on ``exp``, ``nbf`` and ``iat``.
    """

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        leeway: float = 0.0,
        source: KeyRingDir | None = None,
        reload_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ring = ring
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._source = source
        self.reload_interval = reload_interval
        self._clock = clock
        self._checked_at = clock()
        self._stamp = source.stamp() if source is not None else None

    @classmethod
    def generate(cls, **options: Any) -> TokenAuthority:
        """An authority with one fresh key that is not saved anywhere (for tests)."""
        return cls(KeyRing.single(SigningKey.generate()), **options)

    @classmethod
    def in_data_dir(cls, data_dir: Path, **options: Any) -> TokenAuthority:
        """The key ring of ``data_dir`` (created, or migrated from the single key file of older
        versions, on first start); raises ConfigError when a key cannot be read."""
        source = KeyRingDir(data_dir)
        return cls(source.load(), source=source, **options)

    @property
    def kid(self) -> str:
        """The id of the key that signs new tokens."""
        return self._ring.signing.kid

    @property
    def ring(self) -> KeyRing:
        return self._ring

    @property
    def _private(self) -> Ed25519PrivateKey:
        # the current private key, for tests that forge tokens with our kid
        return self._ring.signing.private

    def jwks(self) -> dict[str, object]:
        """Our public keys as a JWK set, the current one first."""
        self._refresh(self.reload_interval)
        return self._ring.jwks()

    def mint(
        self,
        streams: Iterable[str],
        ttl: float,
        *,
        now: float | None = None,
        not_before: float | None = None,
        origins: Iterable[str] | None = None,
    ) -> MintedToken:
        """Sign a token that lets its holder read ``streams`` for ``ttl`` seconds, from the
        ``origins`` given (patterns; see :mod:`captioncast.auth.origins`) or from anywhere.

        Raises OriginPatternError for a bad origin pattern.
        """
        self._refresh(self.reload_interval)
        signing = self._ring.signing
        issued = int(time.time() if now is None else now)
        exp = issued + int(ttl)
        claims: dict[str, object] = {
            "streams": sorted(set(streams)),
            "iat": issued,
            "nbf": issued if not_before is None else int(not_before),
            "exp": exp,
            "iss": self.issuer,
            "aud": self.audience,
        }
        if origins is not None:
            claims["origins"] = [str(pattern) for pattern in parse_patterns(origins)]
        token = jwt.encode(
            claims, signing.private, algorithm=ALGORITHM, headers={"kid": signing.kid}
        )
        return MintedToken(token, datetime.fromtimestamp(exp, UTC), signing.kid)

    def verify(self, token: str) -> ViewerClaims:
        """The claims of a valid token; raises a specific TokenError otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenMalformed("token is empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenMalformed("token is not a JWT") from exc
        key = self._key_for(header)
        try:
            payload = jwt.decode(
                token,
                key.material,
                algorithms=[key.alg],
                audience=self.audience,
                issuer=key.issuer or self.issuer,
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
        except jwt.PyJWTError as exc:  # e.g. a key the library will not use for this alg
            raise TokenBadSignature("token signature is not valid") from exc
        return _claims(payload, key.kid, self.audience)

    def verifier_for_origin(self, origin_header: str | None) -> Callable[[str], ViewerClaims]:
        """``verify`` for a request with this ``Origin`` header (None: none sent): a valid
        token whose ``origins`` claim does not allow it raises TokenOriginNotAllowed."""

        def verify(token: str) -> ViewerClaims:
            return require_origin(self.verify(token), origin_header)

        return verify

    def reload(self) -> None:
        """Re-read the key ring now (when it came from a data dir)."""
        if self._source is not None:
            self._stamp = self._source.stamp()
            self._ring = self._source.load()

    def _key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenBadSignature("token names no key")
        self._refresh(self.reload_interval)
        key = self._ring.get(kid)
        if key is None and self._refresh(UNKNOWN_KID_RELOAD_INTERVAL):
            key = self._ring.get(kid)
        if key is None:
            raise TokenBadSignature("token was signed with an unknown key")
        if header.get("alg") != key.alg:
            raise TokenBadSignature("token algorithm does not match its key")
        return key

    def _refresh(self, interval: float) -> bool:
        """Re-read the ring if its manifest changed, checking at most every ``interval`` s;
        whether it was re-read. A ring that fails to load is logged and the old one kept."""
        now = self._clock()
        if self._source is None or now - self._checked_at < interval:
            return False
        self._checked_at = now
        stamp = self._source.stamp()
        if stamp == self._stamp:
            return False
        try:
            ring = self._source.load()
        except CaptioncastError as exc:
            log.warning("the token key ring changed but cannot be loaded (%s); kept the old", exc)
            self._stamp = stamp  # logged once per change
            return False
        self._ring, self._stamp = ring, stamp
        log.info("token key ring reloaded; current key %s", ring.signing.kid)
        return True


def _claims(payload: dict[str, Any], kid: str, audience: str) -> ViewerClaims:
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
        aud=audience,  # checked by jwt.decode; the claim may also be a list holding it
        origins=_origins(payload.get("origins")),
        kid=kid,
    )


def _origins(value: object) -> tuple[OriginPattern, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TokenClaimsInvalid("claim 'origins' must be a list of origin patterns")
    try:
        return parse_patterns(value)
    except OriginPatternError as exc:
        raise TokenClaimsInvalid(f"claim 'origins' is not valid: {exc}") from exc
