"""The REST API's objects as typed, immutable values (docs/api.md), parsed from its JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Json = Mapping[str, Any]
T = TypeVar("T", bound="DataclassInstance")


@dataclass(frozen=True, slots=True)
class CaptionFormat:
    """The shape of a flow's caption blocks."""

    max_chars_per_line: int = 37
    max_lines: int = 2

    def to_json(self) -> dict[str, int]:
        return {"max_chars_per_line": self.max_chars_per_line, "max_lines": self.max_lines}


@dataclass(frozen=True, slots=True)
class Channel:
    """One language of a flow: what viewers subscribe to (``STREAM-SRC-TGT``)."""

    name: str
    language: str
    service_type: str  # "transcription" or "translation"


@dataclass(frozen=True, slots=True)
class RtmpDetails:
    """Where an ``rtmp_push`` publisher pushes: ``full_url`` = ``url`` + ``/stream_key``."""

    url: str
    stream_key: str
    full_url: str


@dataclass(frozen=True, slots=True)
class SrtDetails:
    """Where an ``srt_push`` publisher pushes: ``full_url`` works as is in ffmpeg and OBS."""

    host: str
    port: int
    passphrase: str
    streamid: str
    full_url: str


@dataclass(frozen=True, slots=True)
class IngestGap:
    """Where a publisher dropped: audio time ``at``, ``seconds`` until audio came again."""

    at: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Ingest:
    """The source of a running flow."""

    connected: bool
    publishers: int
    audio_seconds: float
    gaps: tuple[IngestGap, ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """A flow: one live source captioned into one or more channels.

    ``status`` is one of ``created``, ``starting``, ``live``, ``stopping``, ``ended``,
    ``error`` (then ``error`` says why).
    """

    flow_id: str
    name: str
    stream_name: str
    source: str
    url: str | None
    status: str
    error: str | None
    source_language: str
    target_languages: tuple[str, ...]
    max_latency: float
    caption: CaptionFormat
    model: str | None
    rtmp_details: RtmpDetails | None
    srt_details: SrtDetails | None
    ingest: Ingest | None
    channels: tuple[Channel, ...]
    created_at: datetime
    updated_at: datetime

    def channel(self, language: str | None = None) -> str:
        """The name of the channel in ``language`` (default: the source language)."""
        wanted = language or self.source_language
        for channel in self.channels:
            if channel.language == wanted:
                return channel.name
        raise ValueError(f"flow {self.name!r} has no language {wanted!r}")

    @classmethod
    def from_json(cls, data: Json) -> Flow:
        rtmp, srt, ingest = data.get("rtmp_details"), data.get("srt_details"), data.get("ingest")
        return cls(
            flow_id=data["flow_id"],
            name=data["name"],
            stream_name=data["stream_name"],
            source=data["source"],
            url=data.get("url"),
            status=data["status"],
            error=data.get("error"),
            source_language=data["source_language"],
            target_languages=tuple(data.get("target_languages", ())),
            max_latency=float(data["max_latency"]),
            caption=_known(CaptionFormat, data["caption"]),
            model=data.get("model"),
            rtmp_details=_known(RtmpDetails, rtmp) if rtmp else None,
            srt_details=_known(SrtDetails, srt) if srt else None,
            ingest=_ingest(ingest) if ingest else None,
            channels=tuple(_known(Channel, c) for c in data["channels"]),
            created_at=_datetime(data["created_at"]),
            updated_at=_datetime(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Token:
    """A viewer token for some streams, until ``expires_at``; ``kid`` names its key."""

    token: str
    expires_at: datetime
    kid: str

    @classmethod
    def from_json(cls, data: Json) -> Token:
        return cls(data["token"], _datetime(data["expires_at"]), data["kid"])


@dataclass(frozen=True, slots=True)
class Cue:
    """One final caption block of a transcript (times as in ``Caption``)."""

    id: str
    start: float
    end: float
    text: str
    lines: tuple[str, ...]
    start_pts: float | None
    start_epoch: float
    sei_timestamp: float | None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A flow's final captions so far in one language, in start order."""

    flow_id: str
    stream_name: str
    language: str
    cues: tuple[Cue, ...]

    @property
    def text(self) -> str:
        return " ".join(cue.text for cue in self.cues)

    @classmethod
    def from_json(cls, data: Json) -> Transcript:
        cues = tuple(_known(Cue, {**c, "lines": tuple(c["lines"])}) for c in data["cues"])
        return cls(data["flow_id"], data["stream_name"], data["language"], cues)


def _known(cls: type[T], data: Json) -> T:
    """``cls`` from the fields it has; fields a newer server adds are left out."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _ingest(data: Json) -> Ingest:
    gaps = tuple(IngestGap(float(g["at"]), float(g["seconds"])) for g in data.get("gaps", ()))
    return Ingest(
        bool(data["connected"]), int(data["publishers"]), float(data["audio_seconds"]), gaps
    )


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)
