"""``GET /v1/languages`` and the check that refuses a flow with a pair nothing translates."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from captioncast.engines.mt.catalog import TranslatorSet
from captioncast.engines.mt.fake import FakeTranslator
from captioncast.errors import ApiError
from captioncast.web.api_languages import check_language_pairs, languages_router
from captioncast.web.errors import install_error_handlers


class Remote(FakeTranslator):
    name = "remote"  # type: ignore[assignment]


def translators() -> TranslatorSet:
    return TranslatorSet(
        [FakeTranslator([("en", "es"), ("en", "ca")]), Remote([("en", "es"), ("en", "de")])]
    )


async def test_languages_lists_each_pair_with_its_engine() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(languages_router(translators()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = (await client.get("/v1/languages")).json()
        assert answer == {
            "engines": ["fake", "remote"],
            "pairs": [
                {"source": "en", "target": "ca", "engine": "fake"},
                {"source": "en", "target": "de", "engine": "remote"},
                {"source": "en", "target": "es", "engine": "fake"},
            ],
        }
        only = (await client.get("/v1/languages", params={"source": "fr"})).json()
        assert only["pairs"] == []


async def test_a_flow_asking_for_an_unknown_pair_is_refused() -> None:
    await check_language_pairs(translators(), "en", ["es", "es-419", "de"])
    with pytest.raises(ApiError) as caught:
        await check_language_pairs(translators(), "en", ["es", "ja", "ko"])
    error = caught.value
    assert (error.status, error.code) == (422, "unsupported_language_pair")
    assert "en-ja, en-ko" in error.message
