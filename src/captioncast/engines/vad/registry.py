"""VAD models by name, imported only when chosen (Silero loads onnxruntime)."""

from __future__ import annotations

from typing import Any

from captioncast.engines.lazy import load_class
from captioncast.engines.vad.base import VadModel

VAD_ENGINES = {
    "silero": "captioncast.engines.vad.silero:SileroVad",
    "energy": "captioncast.engines.vad.energy:EnergyVad",
}
DEFAULT_VAD_ENGINE = "silero"


def load_vad(name: str = DEFAULT_VAD_ENGINE, **options: Any) -> VadModel:
    """A new streaming VAD registered as ``name`` (one per stream: it holds state)."""
    vad: VadModel = load_class(VAD_ENGINES, name, "VAD")(**options)
    return vad
