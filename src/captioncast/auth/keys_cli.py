"""``captioncast keys …``: list, rotate, retire and register the keys of viewer tokens."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from captioncast.errors import ConfigError

if TYPE_CHECKING:
    from captioncast.auth.manifest import Manifest

RELOAD_NOTE = "a running server picks the change up within 10 s"


def add_keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``keys`` command and its subcommands."""
    keys = sub.add_parser("keys", help="manage the keys of viewer tokens")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    listing = actions.add_parser("list", help="every key: id, kind, status, issuer")
    listing.add_argument("--json", action="store_true", help="as JSON")

    actions.add_parser("rotate", help="a new signing key; the previous ones keep verifying")

    retire = actions.add_parser("retire", help="stop accepting tokens signed with a key")
    retire.add_argument("kid")

    hs256 = actions.add_parser("add-hs256", help="a shared secret integrators sign HS256 with")
    hs256.add_argument("kid", help="the kid their tokens name in the header")
    hs256.add_argument(
        "--secret-file",
        type=Path,
        help="import this secret (at least 32 bytes; a trailing newline is dropped) instead "
        "of generating one",
    )
    hs256.add_argument("--issuer", help="the iss its tokens carry (default: captioncast)")

    public = actions.add_parser("add-public", help="an external Ed25519 public key (PEM or JWK)")
    public.add_argument("file", type=Path)
    public.add_argument("--kid", help="default: the JWK's kid, else the key's thumbprint")
    public.add_argument("--issuer", help="the iss its tokens carry (default: captioncast)")

    for parser in actions.choices.values():
        parser.add_argument(
            "--data-dir", type=Path, help="default: $CAPTIONCAST_DATA_DIR or ./data"
        )


def run_keys(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out a parsed ``keys`` command (printing to stdout and stderr unless ``out`` and
    ``err`` are given); raises ConfigError."""
    out = out or sys.stdout
    err = err or sys.stderr
    from captioncast.auth.keyring import KeyRingDir  # cryptography: only for this command

    ring = KeyRingDir(_data_dir(args.data_dir))
    command = args.keys_command
    if command == "list":
        _print_list(ring.manifest(), args.json, out)
    elif command == "rotate":
        previous = ring.manifest().current
        key = ring.rotate()
        print(key.kid, file=out)
        print(
            f"{key.kid} signs new tokens; {previous} still verifies: retire it once the tokens "
            f"it signed have expired ({RELOAD_NOTE})",
            file=err,
        )
    elif command == "retire":
        entry = ring.retire(args.kid)
        print(f"retired {entry.kid}: its tokens are refused ({RELOAD_NOTE})", file=err)
    elif command == "add-hs256":
        secret = None if args.secret_file is None else _read_secret(args.secret_file)
        stored = ring.add_hs256(args.kid, secret, args.issuer)
        where = ring.path / f"{args.kid}.hs256"
        if secret is None:
            print(stored.decode("ascii"), file=out)
            print(f"added HS256 key {args.kid}; its secret (above) is in {where}", file=err)
        else:
            print(f"added HS256 key {args.kid} ({RELOAD_NOTE})", file=err)
    elif command == "add-public":
        data = _read(args.file)
        entry = ring.add_public(data, args.file.name, args.kid, args.issuer)
        print(entry.kid, file=out)
        print(f"registered the public key {entry.kid} ({RELOAD_NOTE})", file=err)
    return 0


def _print_list(manifest: Manifest, as_json: bool, out: TextIO) -> None:
    rows = [
        {
            "kid": e.kid,
            "kind": e.kind,
            "alg": e.alg,
            "status": "current" if e.kid == manifest.current else e.status,
            "issuer": e.issuer,
            "created": e.created,
            "retired": e.retired,
        }
        for e in manifest.entries
    ]
    if as_json:
        print(json.dumps({"keys": rows}, indent=2), file=out)
        return
    columns = ["kid", "kind", "alg", "status", "issuer", "created"]
    blank = {"issuer": "(default)"}
    table = [columns] + [[str(row[c] or blank.get(c, "-")) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(),
            file=out,
        )


def _data_dir(given: Path | None) -> Path:
    from captioncast.config import ServeConfig, env_defaults

    path = given or env_defaults().get("data_dir") or ServeConfig().data_dir
    assert isinstance(path, Path)
    if not path.is_dir():
        raise ConfigError(f"no data directory at {path} (give --data-dir)")
    return path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _read_secret(path: Path) -> bytes:
    return _read(path).rstrip(b"\r\n")
