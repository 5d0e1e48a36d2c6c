"""Apertium with the real Debian pairs (apertium-eng-spa, apertium-eng-cat): one long-lived
pipeline per pair, restarted when it dies or wedges."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from captioncast.engines.mt.apertium import (
    ApertiumTranslator,
    escape,
    from_apertium,
    to_apertium,
    unescape,
)
from captioncast.engines.mt.base import TranslationError

pytestmark = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="the apertium package is not installed"
)


@pytest.fixture
def apertium() -> Iterator[ApertiumTranslator]:
    engine = ApertiumTranslator()
    yield engine
    engine.close()


def test_codes_map_between_iso_639_1_and_apertium() -> None:
    assert (to_apertium("en"), to_apertium("es"), to_apertium("ca")) == ("eng", "spa", "cat")
    assert (from_apertium("eng"), from_apertium("spa"), from_apertium("ast")) == ("en", "es", "ast")


def test_installed_pairs_are_listed_in_iso_codes(apertium: ApertiumTranslator) -> None:
    pairs = apertium.pairs()
    assert {("en", "es"), ("es", "en"), ("en", "ca"), ("ca", "en")} <= pairs
    assert not any("_" in s or "_" in t for s, t in pairs)  # variants are not pairs


def test_real_translations(apertium: ApertiumTranslator) -> None:
    es = apertium.translate(
        ["Heavy rain is expected along the coast tonight.", "Good evening, here is the news."],
        "en",
        "es",
    )
    assert "lluvia" in es[0].lower() and "costa" in es[0].lower()
    assert "notici" in es[1].lower()
    (ca,) = apertium.translate(["The rain came early."], "en", "ca")
    assert "pluja" in ca.lower()


def test_the_pipeline_stays_up_between_sentences(apertium: ApertiumTranslator) -> None:
    apertium.translate(["Warm up."], "en", "es")  # loading the dictionaries takes a moment
    started = time.perf_counter()
    for _ in range(20):
        apertium.translate(["The city council has approved a plan."], "en", "es")
    assert time.perf_counter() - started < 2.0
    assert apertium._pipes["eng-spa"].starts == 1


def test_stream_format_characters_come_back_as_written(apertium: ApertiumTranslator) -> None:
    text = "a [b] ^c$ {d} <e> f/g \\h @i *j #k"
    assert unescape(escape(text)) == text
    (out,) = apertium.translate([text], "en", "es")
    for piece in ("[b]", "^c$", "{d}", "<e>", "\\h", "@i"):
        assert piece in out
    assert apertium.translate(["line one\nline two\0"], "en", "es")[0].count("\n") == 0


def test_a_pipeline_that_died_is_started_again(apertium: ApertiumTranslator) -> None:
    first = apertium.translate(["The news."], "en", "es")
    pipe = apertium._pipes["eng-spa"]
    assert pipe._proc is not None
    os.killpg(pipe._proc.pid, signal.SIGKILL)
    pipe._proc.wait()
    assert apertium.translate(["The news."], "en", "es") == first
    assert pipe.starts == 2


def test_a_wedged_pipeline_times_out_and_is_replaced(tmp_path: Path) -> None:
    modes = tmp_path / "modes"
    modes.mkdir()
    (modes / "eng-spa.mode").write_text("tail -f /dev/null\n")  # never answers
    engine = ApertiumTranslator(tmp_path, timeout=0.5)
    try:
        assert engine.pairs() == {("en", "es")}
        started = time.monotonic()
        with pytest.raises(TranslationError, match="no answer within 0.5 s"):
            engine.translate(["Hello."], "en", "es")
        assert time.monotonic() - started < 2.0
        assert engine._pipes["eng-spa"]._proc is None  # killed; the next call starts afresh
    finally:
        engine.close()


def test_a_missing_pair_and_a_missing_install(tmp_path: Path) -> None:
    engine = ApertiumTranslator(tmp_path)
    assert engine.pairs() == set()
    with pytest.raises(TranslationError, match="eng-deu pair is not installed"):
        engine.translate(["Hello."], "en", "de")
