"""What a verified viewer token grants, and the ways a token can be refused.

::

    TokenError               (code "token_invalid")
    ├── TokenMalformed       not a JWT, or a header or payload that cannot be read
    ├── TokenBadSignature    wrong key, unknown ``kid`` or an algorithm we do not accept
    ├── TokenExpired         past ``exp``
    ├── TokenNotYetValid     before ``nbf`` (or issued in the future)
    └── TokenClaimsInvalid   wrong ``iss``/``aud``, or a claim missing or of the wrong type
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class ViewerClaims:
    """The verified claims of a viewer token. Times are Unix seconds."""

    streams: frozenset[str]
    exp: int
    nbf: int
    iat: int
    iss: str
    aud: str

    def covers(self, stream_name: str) -> bool:
        """Whether the token lets its holder read ``stream_name``."""
        return stream_name in self.streams

    def expired(self, now: float) -> bool:
        """Whether the token is past its expiry at ``now``."""
        return now >= self.exp
