"""The key ring in the data dir: creation, migration of the single key, rotation, retirement."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from captioncast.auth.claims import TokenBadSignature
from captioncast.auth.keyring import LEGACY_KEY_FILENAME, KeyRingDir
from captioncast.auth.keys import public_jwk, public_pem, thumbprint
from captioncast.auth.tokens import TokenAuthority
from captioncast.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def manifest_json(ring: KeyRingDir) -> dict[str, object]:
    body: dict[str, object] = json.loads(ring.manifest_path.read_text())
    return body


def jwks_kids(authority: TokenAuthority) -> list[str]:
    keys = authority.jwks()["keys"]
    assert isinstance(keys, list)
    return [key["kid"] for key in keys]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_start_creates_the_ring(tmp_path: Path) -> None:
    first = TokenAuthority.in_data_dir(tmp_path)
    ring = KeyRingDir(tmp_path)
    assert mode(ring.path) == 0o700
    assert mode(ring.manifest_path) == 0o600 and mode(ring.path / f"{first.kid}.pem") == 0o600
    body = manifest_json(ring)
    assert body["current"] == first.kid and body["version"] == 1
    assert not (tmp_path / LEGACY_KEY_FILENAME).exists()
    second = TokenAuthority.in_data_dir(tmp_path)
    assert second.kid == first.kid
    assert second.verify(first.mint(["demo"], 60).token).streams == {"demo"}


def test_the_single_key_of_older_installs_is_migrated(tmp_path: Path) -> None:
    """Same key, same kid (the RFC 7638 thumbprint, computed here by hand): old tokens verify."""
    old_key = Ed25519PrivateKey.generate()
    pem = old_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / LEGACY_KEY_FILENAME).write_bytes(pem)
    x = public_jwk(old_key.public_key(), "-")["x"]
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    old_kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).decode()[:43]
    now = int(time.time())
    claims = {"streams": ["demo"], "exp": now + 600, "nbf": now, "iat": now}
    old_token = jwt.encode(
        {**claims, "iss": "captioncast", "aud": "captioncast"},
        old_key,
        algorithm="EdDSA",
        headers={"kid": old_kid},
    )

    authority = TokenAuthority.in_data_dir(tmp_path)
    assert authority.kid == old_kid
    assert authority.verify(old_token).streams == {"demo"}
    ring = KeyRingDir(tmp_path)
    assert (ring.path / f"{old_kid}.pem").read_bytes() == pem
    assert (tmp_path / LEGACY_KEY_FILENAME).read_bytes() == pem  # left for a downgrade
    ring.rotate()
    again = TokenAuthority.in_data_dir(tmp_path)  # not migrated a second time
    assert again.kid != old_kid and again.verify(old_token)


def test_a_broken_legacy_key_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / LEGACY_KEY_FILENAME).write_text("not a key")
    with pytest.raises(ConfigError, match=LEGACY_KEY_FILENAME):
        TokenAuthority.in_data_dir(tmp_path)


def test_rotate_then_retire(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    before = TokenAuthority.in_data_dir(tmp_path)
    old_token = before.mint(["demo"], 600).token
    new_key = ring.rotate()
    after = TokenAuthority.in_data_dir(tmp_path)
    assert after.kid == new_key.kid != before.kid
    assert after.mint(["demo"], 60).kid == new_key.kid
    assert after.verify(old_token).kid == before.kid
    assert jwks_kids(after) == [new_key.kid, before.kid]
    third = ring.rotate()
    assert jwks_kids(TokenAuthority.in_data_dir(tmp_path)) == [third.kid, new_key.kid, before.kid]

    entry = ring.retire(before.kid)
    assert entry.status == "retired" and entry.retired is not None
    retired = TokenAuthority.in_data_dir(tmp_path)
    with pytest.raises(TokenBadSignature):
        retired.verify(old_token)
    assert jwks_kids(retired) == [third.kid, new_key.kid]
    assert [e.status for e in ring.manifest().entries] == ["retired", "active", "active"]


def test_retire_refusals(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    current = ring.manifest().current
    with pytest.raises(ConfigError, match="rotate first"):
        ring.retire(current)
    with pytest.raises(ConfigError, match="no key"):
        ring.retire("ghost")
    ring.rotate()
    ring.retire(current)
    with pytest.raises(ConfigError, match="already retired"):
        ring.retire(current)
    with pytest.raises(ConfigError, match="taken"):  # a retired id is not reused
        ring.add_hs256(current, b"s" * 32)


def test_a_running_authority_picks_up_changes(tmp_path: Path) -> None:
    clock = Clock()
    authority = TokenAuthority.in_data_dir(tmp_path, clock=clock, reload_interval=10)
    ring = KeyRingDir(tmp_path)
    old = authority.mint(["demo"], 600)
    new_key = ring.rotate()
    clock.now += 5
    assert authority.mint(["demo"], 60).kid == old.kid  # not checked yet
    clock.now += 5
    assert authority.mint(["demo"], 60).kid == new_key.kid
    assert jwks_kids(authority) == [new_key.kid, old.kid]
    ring.retire(old.kid)
    clock.now += 10
    with pytest.raises(TokenBadSignature):
        authority.verify(old.token)

    partner_token = jwt.encode(
        {"streams": ["demo"], "exp": int(time.time()) + 60, "nbf": 0, "iat": 0}
        | {"iss": "captioncast", "aud": "captioncast"},
        b"p" * 32,
        algorithm="HS256",
        headers={"kid": "partner"},
    )
    ring.add_hs256("partner", b"p" * 32)
    clock.now += 1  # an unknown kid makes it look again after 1 s
    assert authority.verify(partner_token).kid == "partner"


def test_a_broken_change_keeps_the_old_ring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    authority = TokenAuthority.in_data_dir(tmp_path, clock=clock)
    token = authority.mint(["demo"], 60).token
    ring = KeyRingDir(tmp_path)
    ring.manifest_path.unlink()
    ring.manifest_path.write_text("{broken")
    clock.now += 60
    assert authority.verify(token).streams == {"demo"}
    assert "cannot be loaded" in caplog.text
    with pytest.raises(ConfigError, match="not JSON"):
        TokenAuthority.in_data_dir(tmp_path)


def test_add_hs256(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    secret = ring.add_hs256("partner")
    assert len(secret) >= 32
    path = ring.path / "partner.hs256"
    assert path.read_bytes() == secret and mode(path) == 0o600
    assert ring.add_hs256("imported", b"i" * 32, issuer="partner.example") == b"i" * 32
    entry = ring.manifest().entry("imported")
    assert entry is not None and entry.issuer == "partner.example" and entry.alg == "HS256"
    refusals: list[tuple[str, bytes | None, str]] = [
        ("short", b"s" * 31, "at least 32 bytes"),
        ("pem", public_pem(Ed25519PrivateKey.generate().public_key()).encode(), "PEM"),
        ("partner", None, "taken"),
        ("../escape", None, "key id"),
        (".hidden", None, "key id"),
        ("", None, "key id"),
    ]
    for kid, given, message in refusals:
        with pytest.raises(ConfigError, match=message):
            ring.add_hs256(kid, given)
    with pytest.raises(ConfigError, match="issuer"):
        ring.add_hs256("no-issuer", None, issuer="")


def test_add_public_from_pem_or_jwk(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    key = Ed25519PrivateKey.generate().public_key()
    entry = ring.add_public(public_pem(key).encode(), "k.pem")
    assert entry.kid == thumbprint(key) and entry.kind == "ed25519-public"
    assert mode(ring.path / entry.filename) == 0o600
    other = Ed25519PrivateKey.generate().public_key()
    jwk = json.dumps(public_jwk(other, "from-jwk")).encode()
    assert ring.add_public(jwk, "k.json").kid == "from-jwk"
    third = Ed25519PrivateKey.generate().public_key()
    jwks = json.dumps({"keys": [public_jwk(third, "x")]}).encode()
    assert ring.add_public(jwks, "k.json", kid="named").kid == "named"
    loaded = ring.load()
    assert {"from-jwk", "named", entry.kid} <= set(loaded.keys)
    assert loaded.published == (ring.manifest().current,)


def test_add_public_refusals(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    jwk_with_d = {**public_jwk(private.public_key(), "k"), "d": "AAAA"}
    cases: list[tuple[bytes, str]] = [
        (private_pem, "private key"),
        (json.dumps(jwk_with_d).encode(), "private key"),
        (ec_pem, "not an Ed25519"),
        (b'{"kty": "RSA"}', "not an Ed25519 JWK"),
        (b'{"kty": "OKP", "crv": "Ed25519", "x": "short"}', "not an Ed25519 public key"),
        (b"{nope", "not valid JSON"),
        (b"garbage", "neither"),
    ]
    for data, message in cases:
        with pytest.raises(ConfigError, match=message):
            ring.add_public(data, "given")
    assert [e.kind for e in ring.manifest().entries] == ["ed25519"]


def test_damaged_rings_are_reported(tmp_path: Path) -> None:
    ring = KeyRingDir(tmp_path)
    ring.add_hs256("partner", b"p" * 32)
    (ring.path / "partner.hs256").unlink()
    with pytest.raises(ConfigError, match="partner.hs256 cannot be read"):
        ring.load()
    (ring.path / "partner.hs256").write_bytes(b"short")
    with pytest.raises(ConfigError, match="too short"):
        ring.load()
    ring.retire("partner")
    ring.load()  # retired keys' files are not read

    body = manifest_json(ring)
    current = body["current"]
    other = ring.rotate()
    (ring.path / f"{other.kid}.pem").unlink()
    (ring.path / f"{other.kid}.pem").write_bytes((ring.path / f"{current}.pem").read_bytes())
    with pytest.raises(ConfigError, match="does not match its kid"):
        ring.load()
    for broken in (
        {**body, "version": 2},
        {**body, "current": "partner"},
        {**body, "keys": [*body["keys"], body["keys"][0]]},  # type: ignore[list-item,index]
        {**body, "keys": [{"kid": "../x", "kind": "hs256", "status": "active", "created": ""}]},
    ):
        ring.manifest_path.write_text(json.dumps(broken))
        with pytest.raises(ConfigError):
            ring.manifest()
