"""The REST API's request and response bodies (they also make the OpenAPI document).

Requests are strict: unknown fields are refused and values are not coerced across types
(``"5"`` is not a number).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from captioncast.auth.origins import MAX_ORIGINS, MAX_PATTERN_CHARS
from captioncast.core.channels import ServiceType
from captioncast.store.base import (
    CHARS_PER_LINE_RANGE,
    LANGUAGE_PATTERN,
    LINES_RANGE,
    MAX_LATENCY_RANGE,
    MAX_TARGET_LANGUAGES,
    STREAM_NAME_PATTERN,
    FlowStatus,
)

STRICT = ConfigDict(extra="forbid", strict=True)

Language = Annotated[str, Field(pattern=LANGUAGE_PATTERN, max_length=35)]
StreamName = Annotated[str, Field(pattern=STREAM_NAME_PATTERN)]
Source = Literal["rtmp_push", "srt_push", "url_pull"]  # KNOWN_SOURCES


class CaptionIn(BaseModel):
    """Caption block shape."""

    model_config = STRICT
    max_chars_per_line: int = Field(37, ge=CHARS_PER_LINE_RANGE[0], le=CHARS_PER_LINE_RANGE[1])
    max_lines: int = Field(2, ge=LINES_RANGE[0], le=LINES_RANGE[1])


class FlowIn(BaseModel):
    """``POST /v1/flows``."""

    model_config = STRICT
    name: StreamName
    source: Source = "rtmp_push"
    url: str | None = Field(None, max_length=2048)
    source_language: Language
    target_languages: list[Language] = Field(default_factory=list, max_length=MAX_TARGET_LANGUAGES)
    max_latency: float = Field(5.0, ge=MAX_LATENCY_RANGE[0], le=MAX_LATENCY_RANGE[1])
    caption: CaptionIn = Field(default_factory=lambda: CaptionIn.model_validate({}))
    model: str | None = Field(None, min_length=1, max_length=200)


class CaptionOut(BaseModel):
    max_chars_per_line: int
    max_lines: int


class RtmpDetails(BaseModel):
    """Where and how the publisher pushes RTMP."""

    url: str
    stream_key: str
    full_url: str


class SrtDetails(BaseModel):
    """Where and how the publisher pushes SRT: ``full_url`` works as is in ffmpeg and OBS."""

    host: str
    port: int
    passphrase: str
    streamid: str
    full_url: str


class GapOut(BaseModel):
    at: float = Field(description="audio time (s) where the publisher's audio stopped")
    seconds: float = Field(description="wall-clock seconds until audio came again")


class IngestOut(BaseModel):
    """The source of a running flow."""

    connected: bool
    publishers: int = Field(description="publisher connections (or source reads) so far")
    audio_seconds: float
    gaps: list[GapOut]


class ChannelOut(BaseModel):
    name: str
    language: str
    service_type: ServiceType
    viewers: int = Field(0, description="viewers subscribed now (WebSocket and Pusher)")


class FlowOut(BaseModel):
    """A flow as the API shows it."""

    flow_id: str
    name: str
    stream_name: str
    source: str
    url: str | None
    status: FlowStatus
    error: str | None
    source_language: str
    target_languages: list[str]
    max_latency: float
    caption: CaptionOut
    model: str | None
    rtmp_details: RtmpDetails | None
    srt_details: SrtDetails | None
    ingest: IngestOut | None = None
    channels: list[ChannelOut]
    created_at: datetime
    updated_at: datetime


class FlowList(BaseModel):
    flows: list[FlowOut]


class TokenIn(BaseModel):
    """``POST /v1/tokens``: the streams the viewer may read, for how long (seconds), and
    optionally from which web origins."""

    model_config = STRICT
    streams: list[StreamName] = Field(min_length=1, max_length=100)
    ttl: int | None = Field(
        None, description="seconds; the server default (3600 unless configured) when omitted"
    )
    origins: list[Annotated[str, Field(max_length=MAX_PATTERN_CHARS)]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ORIGINS,
        description="allowed origins: host names with an optional scheme, port and leading "
        "'*.' (e.g. 'example.com', '*.example.org', 'https://player.example.net'); "
        "any origin when omitted",
    )


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
    kid: str = Field(description="the id of the key that signed the token")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error the API returns."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
