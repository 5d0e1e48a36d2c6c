"""The exceptions captioncast raises.

::

    CaptioncastError
    ├── ConfigError          bad configuration or command-line input
    ├── ModelError           a speech model cannot be found, joined or verified
    ├── IngestError          a source cannot be read or decoded
    │   └── RtmpProtocolError  a peer broke the RTMP protocol
    ├── StoreError           persistence failed
    │   └── NotFound           no such flow
    └── ApiError             a request the API refuses (carries status and code)
"""

from __future__ import annotations


class CaptioncastError(Exception):
    """Base of every error captioncast raises on purpose."""


class ConfigError(CaptioncastError):
    pass


class ModelError(CaptioncastError):
    pass


class IngestError(CaptioncastError):
    pass


class RtmpProtocolError(IngestError):
    pass


class StoreError(CaptioncastError):
    pass


class NotFound(StoreError):
    pass


class ApiError(CaptioncastError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
