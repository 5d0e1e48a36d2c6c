"""Which engine serves which pair: preference order, regional targets, engines that are down."""

from __future__ import annotations

import pytest

from captioncast.engines.mt import catalog
from captioncast.engines.mt.apertium import ApertiumTranslator
from captioncast.engines.mt.base import LanguagePair, TranslationError
from captioncast.engines.mt.catalog import (
    TranslationSettings,
    TranslatorSet,
    translators_from_settings,
)
from captioncast.engines.mt.deepl import DeepLTranslator
from captioncast.engines.mt.fake import FakeTranslator
from captioncast.engines.mt.libretranslate import LibreTranslateTranslator
from captioncast.errors import ConfigError


class Named(FakeTranslator):
    def __init__(self, name: str, pairs: list[LanguagePair]) -> None:
        super().__init__(pairs)
        self.name = name  # type: ignore[misc]
        self.asked = 0

    def pairs(self) -> set[LanguagePair]:
        self.asked += 1
        return super().pairs()


def test_the_first_engine_that_knows_a_pair_serves_it() -> None:
    local = Named("local", [("en", "es"), ("en", "ca")])
    remote = Named("remote", [("en", "es"), ("en", "de"), ("en", "pt-br")])
    translators = TranslatorSet([local, remote])
    assert translators.route("en", "es") is None  # nothing known before load()
    translators.load()
    assert translators.pairs() == {
        ("en", "ca"): "local",
        ("en", "es"): "local",
        ("en", "de"): "remote",
        ("en", "pt-br"): "remote",
    }
    route = translators.route("en", "de")
    assert route is not None and route.translator is remote and route.engine == "remote"
    translators.load()
    assert (local.asked, remote.asked) == (1, 1)  # known pairs are not asked for again


def test_a_regional_code_falls_back_to_its_language() -> None:
    translators = TranslatorSet([Named("a", [("en", "es"), ("en", "pt-br")])])
    translators.load()
    route = translators.route("en-GB", "es-419")
    assert route is not None and (route.source, route.target) == ("en", "es")
    route = translators.route("en", "pt-br")
    assert route is not None and route.target == "pt-br"
    assert translators.route("en", "pt") is None  # a variant does not serve the language
    assert translators.unsupported("en", ["es", "es-419", "de", "en"]) == ["de"]


def test_an_engine_that_is_down_is_asked_again_later(monkeypatch: pytest.MonkeyPatch) -> None:
    down = Named("remote", [("en", "de")])
    down.failing = True
    calls = []

    def pairs() -> set[LanguagePair]:
        calls.append(1)
        if down.failing:
            raise TranslationError("remote: cannot connect")
        return {("en", "de")}

    monkeypatch.setattr(down, "pairs", pairs)
    translators = TranslatorSet([Named("local", [("en", "es")]), down])
    translators.load()
    assert translators.route("en", "es") is not None and translators.route("en", "de") is None
    translators.load()
    assert len(calls) == 1  # not again within a minute
    down.failing = False
    monkeypatch.setattr(catalog, "ASK_AGAIN_AFTER", 0.0)
    translators.load()
    assert translators.route("en", "de") is not None


def test_engines_from_settings() -> None:
    assert [t.name for t in translators_from_settings(TranslationSettings()).translators] == [
        "apertium"
    ]  # the remote engines need an address or a key
    settings = TranslationSettings(
        libretranslate_url="http://lt.example:5000",
        libretranslate_api_key="k",
        deepl_api_key="d:fx",
        timeout=2.0,
    )
    apertium, libre, deepl = translators_from_settings(settings).translators
    assert isinstance(apertium, ApertiumTranslator) and apertium.timeout == 2.0
    assert isinstance(libre, LibreTranslateTranslator) and libre.api_key == "k"
    assert isinstance(deepl, DeepLTranslator)
    only_deepl = translators_from_settings(TranslationSettings(("deepl",), deepl_api_key="d"))
    assert [t.name for t in only_deepl.translators] == ["deepl"]
    with pytest.raises(ConfigError, match="unknown translation engine 'google'"):
        translators_from_settings(TranslationSettings(("google",)))


def test_close_closes_every_engine() -> None:
    engines = [FakeTranslator(), FakeTranslator()]
    TranslatorSet(engines).close()
    assert all(e.closed for e in engines)
