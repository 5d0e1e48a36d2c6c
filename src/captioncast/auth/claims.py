"""What a verified viewer token grants, and the ways a token can be refused.

::

    TokenError               (code "token_invalid")
    ├── TokenMalformed       not a JWT, or a header or payload that cannot be read
    ├── TokenBadSignature    wrong key, unknown ``kid`` or an algorithm we do not accept
    ├── TokenExpired         past ``exp``
    ├── TokenNotYetValid     before ``nbf`` (or issued in the future)
    ├── TokenClaimsInvalid   wrong ``iss``/``aud``, or a claim missing or of the wrong type
    └── TokenOriginNotAllowed  a valid token presented from an origin it does not allow
"""

from __future__ import annotations

from dataclasses import dataclass

from captioncast.auth.origins import OriginPattern, origin_allowed
from captioncast.errors import CaptioncastError


class TokenError(CaptioncastError):
    """A viewer token was refused; ``code`` names why (sent to the peer as the reason)."""

    code = "token_invalid"


class TokenMalformed(TokenError):
    code = "token_malformed"


class TokenBadSignature(TokenError):
    code = "token_bad_signature"


class TokenExpired(TokenError):
    code = "token_expired"


class TokenNotYetValid(TokenError):
    code = "token_not_yet_valid"


class TokenClaimsInvalid(TokenError):
    code = "token_claims_invalid"


class TokenOriginNotAllowed(TokenError):
    """The token is valid but restricted to origins the request did not come from."""

    code = "origin_not_allowed"


@dataclass(frozen=True, slots=True)
class ViewerClaims:
    """The verified claims of a viewer token. Times are Unix seconds.

    ``origins`` is None when the token may be used from any origin; ``kid`` names the key that
    signed it (None for claims not read from a token).
    """

    streams: frozenset[str]
    exp: int
    nbf: int
    iat: int
    iss: str
    aud: str
    origins: tuple[OriginPattern, ...] | None = None
    kid: str | None = None

    def covers(self, stream_name: str) -> bool:
        """Whether the token lets its holder read ``stream_name``."""
        return stream_name in self.streams

    def expired(self, now: float) -> bool:
        """Whether the token is past its expiry at ``now``."""
        return now >= self.exp

    def allows_origin(self, origin_header: str | None) -> bool:
        """Whether a request with this ``Origin`` header (None: none sent) may use the token.

        Without an ``origins`` claim every request may, with or without the header; with
        one, only a request whose ``Origin`` matches one of the patterns.
        """
        return self.origins is None or origin_allowed(self.origins, origin_header)


def require_origin(claims: ViewerClaims, origin_header: str | None) -> ViewerClaims:
    """``claims`` if they allow a request with this ``Origin`` header (None: none sent);
    raises TokenOriginNotAllowed otherwise."""
    if not claims.allows_origin(origin_header):
        raise TokenOriginNotAllowed("the token does not allow this origin")
    return claims
