"""captioncast.bus: channels with history and fan-out, chosen by name.

``BROKERS`` maps a name to ``"module:Class"``; implementations are imported only when
chosen, so an optional backend's dependency is needed only by those who use it.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from captioncast.bus.base import Broker
from captioncast.errors import ConfigError

BROKERS: dict[str, str] = {
    "memory": "captioncast.bus.memory:MemoryBroker",
}


def create_broker(name: str = "memory", **options: Any) -> Broker:
    """Build the broker registered as ``name`` with ``options``. Raises ConfigError."""
    target = BROKERS.get(name)
    if target is None:
        raise ConfigError(f"unknown broker {name!r}; choose one of {sorted(BROKERS)}")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cast(Broker, cls(**options))
