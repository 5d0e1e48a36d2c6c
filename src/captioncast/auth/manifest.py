"""The key ring's manifest (``<data>/keys/keys.json``): which keys exist and which one signs.

::

    {"version": 1, "current": "<kid>", "keys": [
      {"kid": "<kid>", "kind": "ed25519", "status": "active", "issuer": null,
       "created": "2026-03-01T12:00:00Z", "retired": null}, …]}

``current`` names the ``ed25519`` key that signs new tokens; every ``active`` key verifies,
``retired`` ones do not (they stay listed so that ``keys list`` shows the history). A key's
file name follows from its id and kind (:attr:`KeyEntry.filename`), never from the manifest,
so an edited manifest cannot point outside the directory. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from captioncast.auth.keys import ALGORITHMS, KEY_KINDS, KeyKind, check_kid
from captioncast.errors import ConfigError

KeyStatus = Literal["active", "retired"]
MANIFEST_VERSION = 1
MAX_ISSUER_CHARS = 200
_SUFFIXES: dict[KeyKind, str] = {"ed25519": ".pem", "ed25519-public": ".pub.pem", "hs256": ".hs256"}


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One key of the ring. ``issuer`` None: the authority's own issuer (``captioncast``)."""

    kid: str
    kind: KeyKind
    created: str
    status: KeyStatus = "active"
    issuer: str | None = None
    retired: str | None = None

    @property
    def alg(self) -> str:
        return ALGORITHMS[self.kind]

    @property
    def filename(self) -> str:
        return self.kid + _SUFFIXES[self.kind]

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Manifest:
    """The ring's keys in the order they were added, and the current signing key."""

    current: str
    entries: tuple[KeyEntry, ...]

    def __post_init__(self) -> None:
        kids = [entry.kid for entry in self.entries]
        if len(set(kids)) != len(kids):
            raise ConfigError("the key manifest lists a key id twice")
        current = self.entry(self.current)
        if current is None or current.kind != "ed25519" or not current.active:
            raise ConfigError("the key manifest's current key must be an active ed25519 key")

    def entry(self, kid: str) -> KeyEntry | None:
        return next((entry for entry in self.entries if entry.kid == kid), None)

    def added(self, entry: KeyEntry) -> Manifest:
        """With ``entry`` added; raises ConfigError if its id is taken (retired ones too)."""
        if self.entry(entry.kid) is not None:
            raise ConfigError(f"the key id {entry.kid!r} is taken")
        return replace(self, entries=(*self.entries, entry))

    def rotated(self, entry: KeyEntry) -> Manifest:
        """With the new ``ed25519`` key ``entry`` added and made current."""
        return replace(self.added(entry), current=entry.kid)

    def retire(self, kid: str, at: str) -> Manifest:
        """With ``kid`` retired; the current key cannot be (rotate first)."""
        entry = self.entry(kid)
        if entry is None:
            raise ConfigError(f"no key {kid!r} in the key ring")
        if kid == self.current:
            raise ConfigError(f"{kid!r} signs new tokens: rotate first, then retire it")
        if not entry.active:
            raise ConfigError(f"the key {kid!r} is already retired")
        retired = replace(entry, status="retired", retired=at)
        entries = tuple(retired if e.kid == kid else e for e in self.entries)
        return replace(self, entries=entries)

    def to_json(self) -> str:
        keys = [
            {
                "kid": e.kid,
                "kind": e.kind,
                "status": e.status,
                "issuer": e.issuer,
                "created": e.created,
                "retired": e.retired,
            }
            for e in self.entries
        ]
        body = {"version": MANIFEST_VERSION, "current": self.current, "keys": keys}
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse and check a manifest; raises ConfigError."""
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"the key manifest is not JSON: {exc}") from exc
        if not isinstance(body, dict) or body.get("version") != MANIFEST_VERSION:
            raise ConfigError(f"the key manifest must be an object with version {MANIFEST_VERSION}")
        keys, current = body.get("keys"), body.get("current")
        if not isinstance(keys, list) or not isinstance(current, str):
            raise ConfigError("the key manifest needs 'current' and a list of 'keys'")
        return cls(current, tuple(_entry(item) for item in keys))


def check_issuer(issuer: str | None) -> str | None:
    """A usable expected ``iss`` (or None); raises ConfigError."""
    if issuer is not None and not 0 < len(issuer) <= MAX_ISSUER_CHARS:
        raise ConfigError(f"an issuer is 1-{MAX_ISSUER_CHARS} characters")
    return issuer


def _entry(item: Any) -> KeyEntry:
    if not isinstance(item, dict):
        raise ConfigError("every key in the manifest must be an object")
    kid, kind, status = item.get("kid"), item.get("kind"), item.get("status")
    created, issuer, retired = item.get("created"), item.get("issuer"), item.get("retired")
    if not isinstance(kid, str) or kind not in KEY_KINDS or status not in ("active", "retired"):
        raise ConfigError(f"key {str(kid)[:80]!r} in the manifest: bad kid, kind or status")
    if not isinstance(created, str) or not all(
        v is None or isinstance(v, str) for v in (issuer, retired)
    ):
        raise ConfigError(f"key {kid[:80]!r} in the manifest: bad created, issuer or retired")
    return KeyEntry(check_kid(kid), kind, created, status, check_issuer(issuer), retired)
