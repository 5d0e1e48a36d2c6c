"""Minting and verifying real JWTs: every way a token can be refused, HS256 and external keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from captioncast.auth.claims import (
    TokenBadSignature,
    TokenClaimsInvalid,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    TokenOriginNotAllowed,
)
from captioncast.auth.keyring import KeyRingDir
from captioncast.auth.keys import public_pem
from captioncast.auth.origins import OriginPatternError
from captioncast.auth.tokens import TokenAuthority

SECRET = b"0123456789abcdef0123456789abcdef-partner"


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority.generate()


def payload(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "streams": ["demo"],
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "iss": "captioncast",
        "aud": "captioncast",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(claims: dict[str, object], key: object, alg: str, kid: str | None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


def by_hand(header: dict[str, object], claims: dict[str, object], secret: bytes) -> str:
    """An HS256 JWT signed with any bytes, even ones the JWT library refuses as a secret."""

    def part(obj: dict[str, object]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_mint_and_verify(authority: TokenAuthority) -> None:
    before = int(time.time())
    minted = authority.mint(["demo", "other", "demo"], ttl=600)
    claims = authority.verify(minted.token)
    assert claims.streams == frozenset({"demo", "other"})
    assert claims.covers("demo") and not claims.covers("Demo") and not claims.covers("third")
    assert before <= claims.iat <= claims.nbf < claims.exp == claims.iat + 600
    assert (claims.iss, claims.aud) == ("captioncast", "captioncast")
    assert claims.origins is None and claims.kid == minted.kid == authority.kid
    assert int(minted.expires_at.timestamp()) == claims.exp
    header = jwt.get_unverified_header(minted.token)
    assert header["alg"] == "EdDSA" and header["kid"] == authority.kid
    raw = jwt.decode(minted.token, options={"verify_signature": False})
    assert all(type(raw[name]) is int for name in ("exp", "nbf", "iat"))
    assert "origins" not in raw


def test_time_and_shape_errors(authority: TokenAuthority) -> None:
    now = time.time()
    with pytest.raises(TokenExpired):
        authority.verify(authority.mint(["demo"], ttl=60, now=now - 120).token)
    with pytest.raises(TokenNotYetValid):
        authority.verify(authority.mint(["demo"], ttl=600, not_before=now + 300).token)
    with pytest.raises(TokenNotYetValid):  # issued in the future
        authority.verify(authority.mint(["demo"], ttl=600, now=now + 300).token)
    for bad in ("not a token", "", "a.b.c", "x" * 9000):
        with pytest.raises(TokenMalformed):
            authority.verify(bad)
    token = authority.mint(["demo"], ttl=60).token
    head, body, sig = token.split(".")
    with pytest.raises(TokenBadSignature):
        authority.verify(f"{head}.{body}.{sig[:-4]}AAAA")
    with pytest.raises(TokenMalformed):
        authority.verify(f"{head}.!!!.{sig}")


def test_leeway_tolerates_clock_skew() -> None:
    lenient = TokenAuthority.generate(leeway=30)
    assert lenient.verify(lenient.mint(["demo"], ttl=60, now=time.time() - 70).token)


def test_forged_and_unknown_keys_are_refused(authority: TokenAuthority) -> None:
    forger = Ed25519PrivateKey.generate()
    with pytest.raises(TokenBadSignature):  # our kid, another key
        authority.verify(sign(payload(), forger, "EdDSA", authority.kid))
    with pytest.raises(TokenBadSignature):  # a kid we do not know
        authority.verify(TokenAuthority.generate().mint(["demo"], 60).token)
    with pytest.raises(TokenBadSignature):  # no kid at all
        authority.verify(sign(payload(), authority._private, "EdDSA", None))


def test_alg_none_is_refused(authority: TokenAuthority) -> None:
    unsigned = sign(payload(), None, "none", authority.kid)
    assert unsigned.endswith(".")
    with pytest.raises(TokenBadSignature):
        authority.verify(unsigned)
    with pytest.raises(TokenBadSignature):
        authority.verify(unsigned + "c2ln")


def test_hs256_with_our_public_key_as_secret_is_refused(authority: TokenAuthority) -> None:
    """The classic algorithm confusion: HMAC keyed with the public key everyone can fetch."""
    public = authority._private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public_pem(public).encode()
    jwk_x = authority.jwks()["keys"][0]["x"].encode()  # type: ignore[index]
    for secret in (raw, pem, jwk_x):
        forged = by_hand({"alg": "HS256", "typ": "JWT", "kid": authority.kid}, payload(), secret)
        with pytest.raises(TokenBadSignature):
            authority.verify(forged)


def test_wrong_audience_issuer_or_missing_claims(authority: TokenAuthority) -> None:
    key, kid = authority._private, authority.kid
    assert authority.verify(sign(payload(aud=["other", "captioncast"]), key, "EdDSA", kid))
    for changes in ({"aud": "someone-else"}, {"iss": "someone-else"}, {"aud": ["other"]}):
        with pytest.raises(TokenClaimsInvalid):
            authority.verify(sign(payload(**changes), key, "EdDSA", kid))
    for name in ("streams", "exp", "nbf", "iat", "iss", "aud"):
        with pytest.raises(TokenClaimsInvalid):
            authority.verify(sign(payload(**{name: None}), key, "EdDSA", kid))
    wrong_types: list[dict[str, object]] = [
        {"streams": "demo"},
        {"streams": [1]},
        {"streams": ["s"] * 101},
        {"origins": "example.com"},
        {"origins": []},
        {"origins": ["not a host"]},
        {"origins": [f"h{i}.example.com" for i in range(21)]},
    ]
    for changes in wrong_types:
        with pytest.raises(TokenClaimsInvalid):
            authority.verify(sign(payload(**changes), key, "EdDSA", kid))


def test_origins_claim(authority: TokenAuthority) -> None:
    minted = authority.mint(["demo"], 60, origins=["Example.com", "*.example.org", "example.com"])
    raw = jwt.decode(minted.token, options={"verify_signature": False})
    assert raw["origins"] == ["example.com", "*.example.org"]
    claims = authority.verify(minted.token)
    assert claims.allows_origin("https://example.com")
    assert claims.allows_origin("https://cdn.example.org")
    assert not claims.allows_origin("https://example.org")
    assert not claims.allows_origin(None)
    verify = authority.verifier_for_origin("https://cdn.example.org")
    assert verify(minted.token).streams == {"demo"}
    for origin in ("https://evil.example", None):
        with pytest.raises(TokenOriginNotAllowed) as refused:
            authority.verifier_for_origin(origin)(minted.token)
        assert refused.value.code == "origin_not_allowed"
    anywhere = authority.mint(["demo"], 60).token
    assert authority.verifier_for_origin(None)(anywhere)
    with pytest.raises(OriginPatternError):
        authority.mint(["demo"], 60, origins=["*.com"])


@pytest.fixture
def ring(tmp_path: Path) -> KeyRingDir:
    return KeyRingDir(tmp_path)


def test_hs256_tokens_verify_against_their_secret(ring: KeyRingDir) -> None:
    ring.add_hs256("partner", SECRET)
    ring.add_hs256("issuer-bound", SECRET[::-1], issuer="https://partner.example")
    authority = TokenAuthority.in_data_dir(ring.data_dir)
    claims = authority.verify(sign(payload(), SECRET, "HS256", "partner"))
    assert claims.kid == "partner" and claims.covers("demo")
    bound = sign(payload(iss="https://partner.example"), SECRET[::-1], "HS256", "issuer-bound")
    assert authority.verify(bound).iss == "https://partner.example"
    with pytest.raises(TokenClaimsInvalid):  # that key's tokens must carry its issuer
        authority.verify(sign(payload(), SECRET[::-1], "HS256", "issuer-bound"))
    with pytest.raises(TokenBadSignature):  # another secret
        authority.verify(sign(payload(), SECRET + b"x", "HS256", "partner"))
    with pytest.raises(TokenBadSignature):  # HS512 is not the key's algorithm
        authority.verify(sign(payload(), SECRET * 2, "HS512", "partner"))
    with pytest.raises(TokenExpired):
        authority.verify(sign(payload(exp=int(time.time()) - 5), SECRET, "HS256", "partner"))


def test_eddsa_token_naming_an_hs256_key_is_refused(ring: KeyRingDir) -> None:
    ring.add_hs256("partner", SECRET)
    authority = TokenAuthority.in_data_dir(ring.data_dir)
    with pytest.raises(TokenBadSignature):
        authority.verify(sign(payload(), authority._private, "EdDSA", "partner"))
    with pytest.raises(TokenBadSignature):  # nor alg none with the HS256 kid
        authority.verify(sign(payload(), None, "none", "partner"))


def test_external_public_key(ring: KeyRingDir, tmp_path: Path) -> None:
    theirs = Ed25519PrivateKey.generate()
    pem_file = tmp_path / "partner.pem"
    pem_file.write_text(public_pem(theirs.public_key()))
    ring.add_public(pem_file.read_bytes(), "partner.pem", "studio", issuer="studio.example")
    authority = TokenAuthority.in_data_dir(ring.data_dir)
    claims = authority.verify(sign(payload(iss="studio.example"), theirs, "EdDSA", "studio"))
    assert claims.kid == "studio" and claims.iss == "studio.example"
    with pytest.raises(TokenClaimsInvalid):  # their key, but our issuer
        authority.verify(sign(payload(), theirs, "EdDSA", "studio"))
    with pytest.raises(TokenBadSignature):  # their kid, another key
        authority.verify(sign(payload(iss="studio.example"), authority._private, "EdDSA", "studio"))
    raw = theirs.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    with pytest.raises(TokenBadSignature):  # algorithm confusion against their key too
        authority.verify(by_hand({"alg": "HS256", "kid": "studio"}, payload(), raw))
    assert [key["kid"] for key in authority.jwks()["keys"]] == [authority.kid]  # type: ignore[attr-defined]


def test_jwks_holds_the_public_key(authority: TokenAuthority) -> None:
    keys = authority.jwks()["keys"]
    assert isinstance(keys, list) and len(keys) == 1
    jwk: dict[str, str] = keys[0]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["kid"] == authority.kid
    assert jwk["alg"] == "EdDSA" and jwk["use"] == "sig" and "d" not in jwk
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    public = Ed25519PublicKey.from_public_bytes(raw)
    token = authority.mint(["demo"], 60).token
    decoded = jwt.decode(token, public, algorithms=["EdDSA"], audience="captioncast")
    assert decoded["streams"] == ["demo"]
