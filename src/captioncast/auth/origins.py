"""Allowed origins of a viewer token: the patterns, and matching them against ``Origin``.

A pattern is a host name with an optional scheme, an optional leading ``*.`` and an optional
port: ``example.com``, ``*.example.org``, ``https://player.example.net``, ``localhost:3000``.

- No scheme: ``http`` and ``https`` both match; with one, only that scheme.
- No port: only the scheme's default port (443, 80) matches; with one, only that port.
- ``*.example.org`` matches any subdomain (``a.example.org``, ``a.b.example.org``) but not
  ``example.org`` itself; list both to allow both. A wildcard needs at least two labels after
  it (``*.org`` is refused).
- Comparison ignores case. Host names are ASCII (use the ``xn--`` form of an international
  name); IP addresses other than IPv4 and paths are not patterns.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_ORIGINS = 20
MAX_PATTERN_CHARS = 300
DEFAULT_PORTS = {"http": 80, "https": 443}

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*"
_PATTERN = re.compile(
    rf"(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<wildcard>\*\.)?(?P<host>{_HOST})"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)
_ORIGIN = re.compile(
    rf"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?"
)


class OriginPatternError(ValueError):
    """A string that is not an allowed-origin pattern; the message says why."""


@dataclass(frozen=True, slots=True)
class Origin:
    """A browser origin: ``scheme://host:port`` with the default port filled in."""

    scheme: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class OriginPattern:
    """One allowed-origin pattern; ``None`` scheme or port means "any scheme", "default port"."""

    host: str
    wildcard: bool = False
    scheme: str | None = None
    port: int | None = None

    def matches(self, origin: Origin) -> bool:
        """Whether ``origin`` is one this pattern allows."""
        if self.scheme is not None and self.scheme != origin.scheme:
            return False
        port = DEFAULT_PORTS[origin.scheme] if self.port is None else self.port
        if origin.port != port:
            return False
        if self.wildcard:
            return origin.host.endswith("." + self.host)
        return origin.host == self.host

    def __str__(self) -> str:
        scheme = f"{self.scheme}://" if self.scheme else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{scheme}{'*.' if self.wildcard else ''}{self.host}{port}"


def parse_pattern(text: str) -> OriginPattern:
    """``text`` as a pattern; raises OriginPatternError."""
    if len(text) > MAX_PATTERN_CHARS:
        raise OriginPatternError("an origin pattern is at most 300 characters")
    match = _PATTERN.fullmatch(text.strip().lower())
    if match is None:
        raise OriginPatternError(
            f"{text[:80]!r} is not an origin: a host name with an optional scheme, "
            "leading '*.' and port"
        )
    scheme, host = match["scheme"], match["host"]
    if scheme is not None and scheme not in DEFAULT_PORTS:
        raise OriginPatternError(f"{text[:80]!r}: the scheme must be http or https")
    if len(host) > 253:
        raise OriginPatternError(f"{text[:80]!r}: the host name is too long")
    wildcard = match["wildcard"] is not None
    if wildcard and "." not in host:
        raise OriginPatternError(f"{text[:80]!r}: '*.' needs at least two labels after it")
    port = _port(match["port"], text)
    if scheme is not None and port == DEFAULT_PORTS[scheme]:
        port = None  # the same pattern, written one way
    return OriginPattern(host, wildcard, scheme, port)


def parse_patterns(texts: Iterable[str]) -> tuple[OriginPattern, ...]:
    """Several patterns, duplicates dropped, order kept; at most MAX_ORIGINS."""
    patterns = tuple(dict.fromkeys(parse_pattern(text) for text in texts))
    if not patterns:
        raise OriginPatternError("give at least one origin, or none at all")
    if len(patterns) > MAX_ORIGINS:
        raise OriginPatternError(f"at most {MAX_ORIGINS} origins")
    return patterns


def parse_origin(header: str) -> Origin | None:
    """An ``Origin`` header's value; None for ``null``, other schemes and anything else."""
    match = _ORIGIN.fullmatch(header.strip().lower())
    if match is None or match["scheme"] not in DEFAULT_PORTS:
        return None
    scheme = match["scheme"]
    try:
        port = _port(match["port"], header)
    except OriginPatternError:
        return None
    return Origin(scheme, match["host"], DEFAULT_PORTS[scheme] if port is None else port)


def origin_allowed(patterns: Iterable[OriginPattern], header: str | None) -> bool:
    """Whether an ``Origin`` header (None: absent) matches one of ``patterns``."""
    origin = None if header is None else parse_origin(header)
    return origin is not None and any(pattern.matches(origin) for pattern in patterns)


def _port(text: str | None, context: str) -> int | None:
    if text is None:
        return None
    port = int(text)
    if not 1 <= port <= 65535:
        raise OriginPatternError(f"{context[:80]!r}: the port must be 1-65535")
    return port
