"""Import an implementation only when it is chosen by name (uvicorn's registry pattern)."""

from __future__ import annotations

import importlib
from typing import Any

from captioncast.errors import ConfigError


def load_class(registry: dict[str, str], name: str, kind: str) -> Any:
    """Import the ``module:attribute`` registered as ``name``.

    Raises ``ConfigError`` naming the choices when ``name`` is not registered.
    """
    try:
        target = registry[name]
    except KeyError:
        choices = ", ".join(sorted(registry))
        raise ConfigError(f"unknown {kind} engine {name!r}; choose one of: {choices}") from None
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
