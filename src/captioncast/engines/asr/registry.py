"""ASR engines by name, imported only when chosen (faster-whisper is heavy)."""

from __future__ import annotations

from typing import Any

from captioncast.engines.asr.base import AsrEngine
from captioncast.engines.lazy import load_class

ASR_ENGINES = {
    "faster-whisper": "captioncast.engines.asr.whisper:FasterWhisperEngine",
    "scripted": "captioncast.engines.asr.fake:ScriptedAsrEngine",
}
DEFAULT_ASR_ENGINE = "faster-whisper"


def load_asr_engine(
    name: str = DEFAULT_ASR_ENGINE, model_spec: str = "base", **options: Any
) -> AsrEngine:
    """Build the engine registered as ``name`` for ``model_spec``.

    ``options`` go to the engine: for faster-whisper ``device``, ``compute_type``,
    ``cpu_threads``, ``beam_size`` and ``cache_dir``; for the scripted engine ``script``,
    ``clock``, ``unstable_words``, ``settle`` and ``latency``. Raises ``ModelError`` when the
    model cannot be found.
    """
    engine: AsrEngine = load_class(ASR_ENGINES, name, "ASR").from_spec(model_spec, **options)
    return engine
