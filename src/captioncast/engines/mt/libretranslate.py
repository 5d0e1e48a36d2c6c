"""LibreTranslate (or any server with its API): ``POST /translate``, ``GET /languages``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from captioncast.engines.mt.base import LanguagePair, TranslationError
from captioncast.engines.mt.http import JsonHttp


class LibreTranslateTranslator:
    """A LibreTranslate server at ``url``; ``api_key`` when the server requires one."""

    name = "libretranslate"

    def __init__(
        self, url: str, api_key: str | None = None, timeout: float = 5.0, retries: int = 1
    ) -> None:
        self.api_key = api_key
        self._http = JsonHttp(self.name, url, timeout, retries)

    def pairs(self) -> set[LanguagePair]:
        languages = self._http.get("/languages")
        if not isinstance(languages, list):
            raise TranslationError("libretranslate: /languages is not a list")
        try:
            codes = [str(lang["code"]) for lang in languages]
            # Servers before 1.3 list no "targets": every language translates to every other.
            targets = [[str(t) for t in lang.get("targets", codes)] for lang in languages]
        except (KeyError, TypeError, AttributeError):
            raise TranslationError("libretranslate: unexpected answer to /languages") from None
        return {(s, t) for s, ts in zip(codes, targets, strict=True) for t in ts if t != s}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        out = [""] * len(texts)
        if not wanted:
            return out
        body: dict[str, Any] = {
            "q": [texts[i] for i in wanted],
            "source": source,
            "target": target,
            "format": "text",
        }
        if self.api_key:
            body["api_key"] = self.api_key
        answer = self._http.post("/translate", body)
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if isinstance(translated, str):
            translated = [translated]
        if not isinstance(translated, list) or len(translated) != len(wanted):
            raise TranslationError("libretranslate: unexpected answer to /translate")
        for i, text in zip(wanted, translated, strict=True):
            out[i] = str(text)
        return out

    def close(self) -> None:
        self._http.close()
