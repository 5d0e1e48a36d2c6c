"""Allowed-origin patterns and matching them against ``Origin`` headers."""

from __future__ import annotations

import pytest

from captioncast.auth.claims import ViewerClaims
from captioncast.auth.origins import (
    MAX_ORIGINS,
    OriginPatternError,
    origin_allowed,
    parse_origin,
    parse_pattern,
    parse_patterns,
)


def allowed(patterns: list[str], origin: str | None) -> bool:
    return origin_allowed(parse_patterns(patterns), origin)


@pytest.mark.parametrize(
    ("pattern", "origin", "expected"),
    [
        ("example.com", "https://example.com", True),
        ("example.com", "http://example.com", True),
        ("example.com", "https://www.example.com", False),
        ("example.com", "https://example.com.evil.net", False),
        ("example.com", "https://evilexample.com", False),
        ("example.com", "https://example.com:443", True),
        ("example.com", "https://example.com:8443", False),
        ("example.com", "http://example.com:443", False),
        ("example.com:8443", "https://example.com:8443", True),
        ("example.com:8443", "http://example.com:8443", True),
        ("example.com:8443", "https://example.com", False),
        ("*.example.org", "https://a.example.org", True),
        ("*.example.org", "https://a.b.example.org", True),
        ("*.example.org", "https://example.org", False),
        ("*.example.org", "https://aexample.org", False),
        ("*.example.org", "https://a.example.org:444", False),
        ("https://player.example.net", "https://player.example.net", True),
        ("https://player.example.net", "http://player.example.net", False),
        ("https://player.example.net/", "https://player.example.net", True),
        ("http://localhost:3000", "http://localhost:3000", True),
        ("http://localhost:3000", "http://localhost:3001", False),
        ("HTTPS://Player.Example.NET", "https://player.example.net", True),
        ("player.example.net", "HTTPS://PLAYER.Example.net", True),
        ("example.com", "null", False),
        ("example.com", "file://example.com", False),
        ("example.com", "https://example.com/path", False),
        ("example.com", "", False),
        ("example.com", None, False),
        ("127.0.0.1:8080", "http://127.0.0.1:8080", True),
    ],
)
def test_matching(pattern: str, origin: str | None, expected: bool) -> None:
    assert allowed([pattern], origin) is expected


def test_any_pattern_of_several_may_match() -> None:
    patterns = ["example.com", "*.example.org"]
    assert allowed(patterns, "https://example.com")
    assert allowed(patterns, "https://cdn.example.org")
    assert not allowed(patterns, "https://example.org")
    assert allowed([*patterns, "example.org"], "https://example.org")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "*.org",
        "**.example.org",
        "a.*.example.org",
        "ftp://example.com",
        "ws://example.com",
        "example.com/path",
        "https://example.com/a",
        "example.com:0",
        "example.com:65536",
        "-example.com",
        "example-.com",
        "exa_mple.com",
        "example..com",
        "example.com.",
        "user@example.com",
        "[::1]",
        "é.example.com",
        "a" * 64 + ".com",
        "x" * 301,
    ],
)
def test_bad_patterns_are_refused(text: str) -> None:
    with pytest.raises(OriginPatternError):
        parse_pattern(text)


def test_patterns_are_normalized_and_limited() -> None:
    assert str(parse_pattern(" HTTPS://Player.Example.net:443/ ")) == "https://player.example.net"
    assert str(parse_pattern("*.Example.org:8443")) == "*.example.org:8443"
    assert len(parse_patterns(["a.com", "A.com", "b.com"])) == 2
    parse_patterns([f"h{i}.example.com" for i in range(MAX_ORIGINS)])
    with pytest.raises(OriginPatternError):
        parse_patterns([f"h{i}.example.com" for i in range(MAX_ORIGINS + 1)])
    with pytest.raises(OriginPatternError):
        parse_patterns([])


def test_origin_headers() -> None:
    assert parse_origin("http://a.example:80") == parse_origin("http://a.example")
    assert parse_origin("https://a.example:99999") is None
    assert parse_origin("http://[::1]:3000") is None


def test_claims_without_origins_allow_any_request() -> None:
    claims = ViewerClaims(frozenset({"demo"}), 2, 0, 0, "captioncast", "captioncast")
    assert claims.allows_origin(None) and claims.allows_origin("https://anywhere.example")
    restricted = ViewerClaims(
        frozenset({"demo"}), 2, 0, 0, "captioncast", "captioncast", parse_patterns(["a.com"])
    )
    assert restricted.allows_origin("https://a.com")
    assert not restricted.allows_origin("https://b.com")
    assert not restricted.allows_origin(None)
