from __future__ import annotations

import base64
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from captioncast.auth.claims import (
    TokenBadSignature,
    TokenClaimsInvalid,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
)
from captioncast.auth.tokens import KEY_FILENAME, TokenAuthority


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority.generate()


def test_mint_and_verify(authority: TokenAuthority) -> None:
    before = int(time.time())
    minted = authority.mint(["demo", "other", "demo"], ttl=600)
    claims = authority.verify(minted.token)
    assert claims.streams == frozenset({"demo", "other"})
    assert claims.covers("demo") and not claims.covers("Demo")
    assert before <= claims.iat <= claims.nbf < claims.exp == claims.iat + 600
    assert (claims.iss, claims.aud) == ("captioncast", "captioncast")
    assert int(minted.expires_at.timestamp()) == claims.exp
    header = jwt.get_unverified_header(minted.token)
    assert header["alg"] == "EdDSA" and header["kid"] == authority.kid


def test_specific_errors(authority: TokenAuthority) -> None:
    now = time.time()
    with pytest.raises(TokenExpired):
        authority.verify(authority.mint(["demo"], ttl=60, now=now - 120).token)
    with pytest.raises(TokenNotYetValid):
        authority.verify(authority.mint(["demo"], ttl=600, not_before=now + 300).token)
    with pytest.raises(TokenMalformed):
        authority.verify("not a token")
    with pytest.raises(TokenMalformed):
        authority.verify("")
    token = authority.mint(["demo"], ttl=60).token
    head, payload, sig = token.split(".")
    with pytest.raises(TokenBadSignature):
        authority.verify(f"{head}.{payload}.{sig[:-4]}AAAA")
    with pytest.raises(TokenMalformed):
        authority.verify(f"{head}.!!!.{sig}")


def test_forged_token_with_our_kid_is_refused(authority: TokenAuthority) -> None:
    forger = TokenAuthority.generate()
    claims = {
        "streams": ["demo"],
        "exp": int(time.time()) + 60,
        "nbf": 0,
        "iat": 0,
        "iss": "captioncast",
        "aud": "captioncast",
    }
    forged = jwt.encode(claims, forger._private, algorithm="EdDSA", headers={"kid": authority.kid})
    with pytest.raises(TokenBadSignature):
        authority.verify(forged)
    with pytest.raises(TokenBadSignature):
        authority.verify(forger.mint(["demo"], 60).token)  # unknown kid
    hs = jwt.encode(
        claims,
        "secret-secret-secret-secret-1234",
        algorithm="HS256",
        headers={"kid": authority.kid},
    )
    with pytest.raises(TokenBadSignature):
        authority.verify(hs)


def test_wrong_audience_or_missing_claims(authority: TokenAuthority) -> None:
    other = TokenAuthority(authority._private, audience="someone-else")
    with pytest.raises(TokenClaimsInvalid):
        authority.verify(other.mint(["demo"], 60).token)
    base = {
        "exp": int(time.time()) + 60,
        "nbf": 0,
        "iat": 0,
        "iss": "captioncast",
        "aud": "captioncast",
    }
    missing = jwt.encode(
        base, authority._private, algorithm="EdDSA", headers={"kid": authority.kid}
    )
    with pytest.raises(TokenClaimsInvalid):
        authority.verify(missing)
    wrong_type = jwt.encode(
        {**base, "streams": "demo"},
        authority._private,
        algorithm="EdDSA",
        headers={"kid": authority.kid},
    )
    with pytest.raises(TokenClaimsInvalid):
        authority.verify(wrong_type)


def test_key_persists_in_the_data_dir(tmp_path: Path) -> None:
    first = TokenAuthority.in_data_dir(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILENAME).stat().st_mode) == 0o600
    second = TokenAuthority.in_data_dir(tmp_path)
    assert first.kid == second.kid
    assert second.verify(first.mint(["demo"], 60).token).streams == {"demo"}


def test_jwks_holds_the_public_key(authority: TokenAuthority) -> None:
    keys = authority.jwks()["keys"]
    assert isinstance(keys, list) and len(keys) == 1
    jwk: dict[str, str] = keys[0]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["kid"] == authority.kid
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    public = Ed25519PublicKey.from_public_bytes(raw)
    token = authority.mint(["demo"], 60).token
    decoded = jwt.decode(token, public, algorithms=["EdDSA"], audience="captioncast")
    assert decoded["streams"] == ["demo"]
