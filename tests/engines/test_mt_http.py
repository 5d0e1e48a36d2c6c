"""LibreTranslate and DeepL against an in-process server: request shapes, keys, retries,
time limits, and errors that carry no request detail."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from mt_fake_server import DEEPL_KEY, LIBRE_KEY, FakeMtServer, fake_mt_server

from captioncast.engines.mt.base import TranslationError
from captioncast.engines.mt.deepl import DeepLTranslator
from captioncast.engines.mt.libretranslate import LibreTranslateTranslator


@pytest.fixture
def server() -> Iterator[FakeMtServer]:
    with fake_mt_server(require_libre_key=True) as server:
        yield server


@pytest.fixture
def libre(server: FakeMtServer) -> Iterator[LibreTranslateTranslator]:
    engine = LibreTranslateTranslator(server.url, api_key=LIBRE_KEY, timeout=1.0, retries=1)
    yield engine
    engine.close()


@pytest.fixture
def deepl(server: FakeMtServer) -> Iterator[DeepLTranslator]:
    engine = DeepLTranslator(DEEPL_KEY, url=server.url, timeout=1.0, retries=1)
    yield engine
    engine.close()


def test_libretranslate_request(server: FakeMtServer, libre: LibreTranslateTranslator) -> None:
    assert libre.pairs() == {("en", "es"), ("en", "ca"), ("es", "en")}
    assert libre.translate(["Good evening.", "", "Rain."], "en", "ca") == [
        "GOOD EVENING.",
        "",
        "RAIN.",
    ]
    method, path, _, body = server.requests[-1]
    assert (method, path) == ("POST", "/translate")
    assert body == {
        "q": ["Good evening.", "Rain."],  # empty texts are not sent
        "source": "en",
        "target": "ca",
        "format": "text",
        "api_key": LIBRE_KEY,
    }


def test_libretranslate_without_targets_lists_every_direction(
    server: FakeMtServer, libre: LibreTranslateTranslator
) -> None:
    server.list_targets = False  # LibreTranslate before 1.3
    assert libre.pairs() == {("en", "es"), ("es", "en")}


def test_a_wrong_key_is_final_and_not_retried(server: FakeMtServer) -> None:
    engine = LibreTranslateTranslator(server.url, api_key="wrong", retries=3)
    try:
        with pytest.raises(TranslationError, match="libretranslate: HTTP 403") as caught:
            engine.translate(["Hello."], "en", "es")
        assert "wrong" not in str(caught.value)
        assert len(server.requests) == 1
    finally:
        engine.close()


def test_overload_and_server_errors_are_retried(
    server: FakeMtServer, libre: LibreTranslateTranslator
) -> None:
    server.fail_next = [503]
    assert libre.translate(["Hello."], "en", "es") == ["HELLO."]
    assert len(server.requests) == 2
    server.fail_next = [429, 502]
    with pytest.raises(TranslationError, match="libretranslate: HTTP 502"):
        libre.translate(["Hello."], "en", "es")


def test_a_slow_server_times_out_within_the_limit(
    server: FakeMtServer, libre: LibreTranslateTranslator
) -> None:
    server.delay = 3.0
    started = time.monotonic()
    with pytest.raises(TranslationError, match="libretranslate: timed out"):
        libre.translate(["Hello."], "en", "es")
    assert time.monotonic() - started < 1.0 * 2 + 0.25 + 1.0  # two tries and a backoff
    server.delay = 0.0


def test_a_server_that_is_down(libre: LibreTranslateTranslator) -> None:
    engine = LibreTranslateTranslator("http://127.0.0.1:9", retries=0)
    try:
        with pytest.raises(TranslationError, match="libretranslate: cannot connect"):
            engine.pairs()
    finally:
        engine.close()


def test_deepl_request(server: FakeMtServer, deepl: DeepLTranslator) -> None:
    pairs = deepl.pairs()
    assert {("en", "es"), ("es", "en-us"), ("es", "en-gb"), ("es", "en")} <= pairs
    assert ("en", "en-us") not in pairs
    assert deepl.translate(["Good evening."], "en", "es") == ["GOOD EVENING."]
    _, path, headers, body = server.requests[-1]
    assert path == "/v2/translate"
    assert headers["Authorization"] == f"DeepL-Auth-Key {DEEPL_KEY}"
    assert body == {"text": ["Good evening."], "source_lang": "EN", "target_lang": "ES"}
    deepl.translate(["Buenas noches."], "es", "en")
    assert server.requests[-1][3]["target_lang"] == "EN-US"  # a bare target: its first variant


def test_deepl_refuses_a_wrong_key(server: FakeMtServer) -> None:
    engine = DeepLTranslator("not-the-key", url=server.url)
    try:
        with pytest.raises(TranslationError, match="deepl: HTTP 403"):
            engine.translate(["Hello."], "en", "es")
    finally:
        engine.close()


def test_deepl_free_keys_use_the_free_api() -> None:
    engine = DeepLTranslator("abc:fx")
    assert engine._http._options["base_url"] == "https://api-free.deepl.com"
    assert DeepLTranslator("abc")._http._options["base_url"] == "https://api.deepl.com"
