"""captioncast: self-hosted live captions and live translations.

``captioncast.Client`` is the Python SDK (``captioncast.sdk``, see docs/sdks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from captioncast.sdk import Client


def __getattr__(name: str) -> object:
    # The SDK needs httpx; load it on first use, so that the server and the command line
    # (which import this package) do not.
    if name == "Client":
        from captioncast.sdk import Client

        return Client
    raise AttributeError(f"module 'captioncast' has no attribute {name!r}")
