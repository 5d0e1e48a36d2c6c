"""``captioncast keys …``: a few runs as a real subprocess, the rest through ``main``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from captioncast.auth.claims import TokenBadSignature
from captioncast.auth.keys import public_jwk
from captioncast.auth.tokens import TokenAuthority
from captioncast.cli import main


def keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "captioncast.cli", "keys", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base = {"streams": ["demo"], "exp": now + 60, "nbf": now, "iat": now}
    return {**base, "iss": "captioncast", "aud": "captioncast", **changes}


def test_rotate_add_and_retire_in_a_subprocess(tmp_path: Path) -> None:
    listed = keys(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    header, first_row = listed.stdout.splitlines()
    assert header.split() == ["kid", "kind", "alg", "status", "issuer", "created"]
    first_kid = first_row.split()[0]
    assert first_row.split()[1:5] == ["ed25519", "EdDSA", "current", "(default)"]
    old_token = TokenAuthority.in_data_dir(tmp_path).mint(["demo"], 600).token

    rotated = keys(tmp_path, "rotate")
    assert rotated.returncode == 0 and first_kid in rotated.stderr
    new_kid = rotated.stdout.strip()

    added = keys(tmp_path, "add-hs256", "partner")
    assert added.returncode == 0
    secret = added.stdout.strip().encode()
    assert len(secret) >= 32 and secret.decode() not in added.stderr

    retired = keys(tmp_path, "retire", first_kid)
    assert retired.returncode == 0 and "retired" in retired.stderr
    refused = keys(tmp_path, "retire", new_kid)
    assert refused.returncode == 2 and "rotate first" in refused.stderr

    rows = json.loads(keys(tmp_path, "list", "--json").stdout)["keys"]
    assert [(r["kid"], r["status"]) for r in rows] == [
        (first_kid, "retired"),
        (new_kid, "current"),
        ("partner", "active"),
    ]
    authority = TokenAuthority.in_data_dir(tmp_path)
    assert authority.kid == new_kid
    hs = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "partner"})
    assert authority.verify(hs).kid == "partner"
    with pytest.raises(TokenBadSignature):
        authority.verify(old_token)


def test_import_a_secret_and_a_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(b"s" * 32 + b"\n")
    args = ["keys", "add-hs256", "imported", "--secret-file", str(secret_file)]
    assert main([*args, "--issuer", "cms.example", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out == ""  # an imported secret is not printed

    theirs = Ed25519PrivateKey.generate()
    jwk_file = tmp_path / "studio.jwk"
    jwk_file.write_text(json.dumps(public_jwk(theirs.public_key(), "ignored")))
    args = ["keys", "add-public", str(jwk_file), "--kid", "studio", "--issuer", "studio.example"]
    assert main([*args, "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.strip() == "studio"

    authority = TokenAuthority.in_data_dir(data)
    imported = jwt.encode(
        claims(iss="cms.example"), b"s" * 32, algorithm="HS256", headers={"kid": "imported"}
    )
    assert authority.verify(imported).iss == "cms.example"
    external = jwt.encode(
        claims(iss="studio.example"), theirs, algorithm="EdDSA", headers={"kid": "studio"}
    )
    assert authority.verify(external).kid == "studio"
    jwks = authority.jwks()["keys"]
    assert isinstance(jwks, list) and [k["kid"] for k in jwks] == [authority.kid]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retire", "ghost"], "no key 'ghost'"),
        (["add-hs256", "../x"], "key id"),
        (["add-hs256", "short", "--secret-file", "{short}"], "at least 32 bytes"),
        (["add-hs256", "gone", "--secret-file", "{missing}"], "cannot read"),
        (["add-public", "{short}"], "neither a PEM public key nor a JWK"),
    ],
)
def test_refusals_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "short").write_text("tiny\n")
    paths = {"short": str(tmp_path / "short"), "missing": str(tmp_path / "missing")}
    filled = [arg.format(**paths) for arg in args]
    assert main(["keys", *filled, "--data-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_data_dir_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list", "--data-dir", str(tmp_path / "typo")]) == 2
    assert "no data directory" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
