"""``GET /v1/languages``: the translation pairs this installation serves, and the check that
refuses a flow asking for one it does not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter
from pydantic import BaseModel

from captioncast.engines.mt.catalog import TranslatorSet
from captioncast.errors import ApiError


class LanguagePairOut(BaseModel):
    source: str
    target: str
    engine: str


class LanguagesOut(BaseModel):
    """Every source → target pair and the engine that serves it (the first configured one
    that knows the pair). A target with a region (``es-419``) is served by its language's
    pair when no engine lists it exactly."""

    engines: list[str]
    pairs: list[LanguagePairOut]


def languages_router(translators: TranslatorSet) -> APIRouter:
    router = APIRouter(prefix="/v1/languages", tags=["languages"])

    @router.get("", response_model=LanguagesOut)
    async def list_languages(source: str | None = None) -> LanguagesOut:
        """The pairs served, all of them or those from ``source``."""
        await asyncio.to_thread(translators.load)
        pairs = [
            LanguagePairOut(source=s, target=t, engine=engine)
            for (s, t), engine in sorted(translators.pairs().items())
            if source is None or s == source
        ]
        return LanguagesOut(engines=[t.name for t in translators.translators], pairs=pairs)

    return router


async def check_language_pairs(
    translators: TranslatorSet, source: str, targets: Sequence[str]
) -> None:
    """Raise a 422 ``unsupported_language_pair`` naming every pair no engine translates."""
    await asyncio.to_thread(translators.load)
    missing = translators.unsupported(source, targets)
    if missing:
        names = ", ".join(f"{source}-{target}" for target in missing)
        raise ApiError(
            422,
            "unsupported_language_pair",
            f"no translation engine here translates {names}; GET /v1/languages lists the pairs",
        )
