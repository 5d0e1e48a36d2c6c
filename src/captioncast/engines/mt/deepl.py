"""DeepL's API (v2): ``POST /v2/translate``, ``GET /v2/languages``.

The key goes in the ``Authorization: DeepL-Auth-Key`` header (DeepL no longer takes it in the
body). A key ending in ``:fx`` belongs to the free API (api-free.deepl.com). DeepL names
languages in upper case and wants a variant for some targets (``EN-US``, ``PT-BR``): codes
are lower-cased here, and a bare target (``en``) goes to DeepL as its first listed variant.
"""

from __future__ import annotations

from collections.abc import Sequence

from captioncast.engines.mt.base import LanguagePair, TranslationError, primary_subtag
from captioncast.engines.mt.http import JsonHttp


class DeepLTranslator:
    """DeepL with ``api_key``; ``url`` overrides the API's address (a proxy, a test server)."""

    name = "deepl"

    def __init__(
        self, api_key: str, url: str | None = None, timeout: float = 5.0, retries: int = 1
    ) -> None:
        if url is None:
            free = api_key.endswith(":fx")
            url = "https://api-free.deepl.com" if free else "https://api.deepl.com"
        headers = {"Authorization": f"DeepL-Auth-Key {api_key}"}
        self._http = JsonHttp(self.name, url, timeout, retries, headers)
        self._targets: dict[str, str] = {}  # our code → DeepL's

    def pairs(self) -> set[LanguagePair]:
        sources = {code.lower() for code in self._languages("source")}
        targets: dict[str, str] = {}
        for code in self._languages("target"):
            targets.setdefault(code.lower(), code)
            targets.setdefault(primary_subtag(code), code)  # en → EN-GB, the first listed
        self._targets = targets
        return {(s, t) for s in sources for t in targets if primary_subtag(t) != s}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        if not any(text.strip() for text in texts):
            return ["" for _ in texts]
        body = {
            "text": list(texts),
            "source_lang": primary_subtag(source).upper(),
            "target_lang": self._targets.get(target, target.upper()),
        }
        answer = self._http.post("/v2/translate", body)
        translations = answer.get("translations") if isinstance(answer, dict) else None
        if not isinstance(translations, list) or len(translations) != len(texts):
            raise TranslationError("deepl: unexpected answer to /v2/translate")
        try:
            return [str(t["text"]) for t in translations]
        except (KeyError, TypeError):
            raise TranslationError("deepl: unexpected answer to /v2/translate") from None

    def close(self) -> None:
        self._http.close()

    def _languages(self, kind: str) -> list[str]:
        listed = self._http.get("/v2/languages", {"type": kind})
        if not isinstance(listed, list):
            raise TranslationError("deepl: /v2/languages is not a list")
        try:
            return [str(lang["language"]) for lang in listed]
        except (KeyError, TypeError):
            raise TranslationError("deepl: unexpected answer to /v2/languages") from None
