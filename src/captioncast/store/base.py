"""Flows: the records, their validation rules, their lifecycle, and the store contract.

Rules (also in docs/api.md):

- ``name`` is the flow's stream name: 1–64 characters from ``[A-Za-z0-9_]``, no hyphen, so
  that a channel name ``STREAM-SRC-TGT`` can never collide with another flow's; unique,
  case-insensitively, among flows not deleted.
- language codes are BCP 47-like: ``en``, ``es-419``, ``zh-Hans``.
- ``max_latency`` 1–60 s; captions 10–80 characters a line, 1–4 lines.
- ``source`` is ``rtmp_push``, ``srt_push`` or ``url_pull``; ``url`` is required for
  ``url_pull`` (``rtmp://``, ``rtmps://``, ``srt://`` as a caller, ``http(s)://`` media or
  HLS, ``file://`` or an absolute path) and refused for the others.
- an ``srt_push`` flow gets an SRT port of its own from the configured range when created.

Lifecycle: ``created → starting → live → stopping → ended``, ``error`` from anywhere
active, and ``ended``/``error`` may start again (see ``TRANSITIONS``).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from captioncast.core.layout import CaptionLayout
from captioncast.errors import StoreError

STREAM_NAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
KNOWN_SOURCES = ("rtmp_push", "srt_push", "url_pull")
MAX_LATENCY_RANGE = (1.0, 60.0)
CHARS_PER_LINE_RANGE = (10, 80)
LINES_RANGE = (1, 4)
MAX_TARGET_LANGUAGES = 16


class FlowStatus(StrEnum):
    """Where a flow is in its lifecycle."""

    CREATED = "created"
    STARTING = "starting"
    LIVE = "live"
    STOPPING = "stopping"
    ENDED = "ended"
    ERROR = "error"


S = FlowStatus
TRANSITIONS: dict[FlowStatus, frozenset[FlowStatus]] = {
    S.CREATED: frozenset({S.STARTING, S.ERROR}),
    S.STARTING: frozenset({S.LIVE, S.STOPPING, S.ENDED, S.ERROR}),
    S.LIVE: frozenset({S.STOPPING, S.ENDED, S.ERROR}),
    S.STOPPING: frozenset({S.ENDED, S.ERROR}),
    S.ENDED: frozenset({S.STARTING}),
    S.ERROR: frozenset({S.STARTING}),
}
ACTIVE_STATUSES = frozenset({S.STARTING, S.LIVE, S.STOPPING})


def can_transition(current: FlowStatus, new: FlowStatus) -> bool:
    """Whether a flow in ``current`` may move to ``new``."""
    return new in TRANSITIONS[current]


class InvalidFlow(StoreError, ValueError):
    """A flow specification breaks a rule; the message says which."""


class StreamNameTaken(StoreError):
    """Another flow (not deleted) already uses this stream name."""


class NoFreePort(StoreError):
    """Every port of the SRT range is taken by another flow."""


class InvalidTransition(StoreError):
    """The flow's current status does not allow the requested one."""

    def __init__(self, current: FlowStatus, requested: FlowStatus) -> None:
        super().__init__(f"cannot go from {current.value!r} to {requested.value!r}")
        self.current = current
        self.requested = requested


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """What a client asks for when it creates a flow; validated on construction."""

    name: str
    source_language: str
    target_languages: tuple[str, ...] = ()
    source: str = "rtmp_push"
    url: str | None = None
    max_latency: float = 5.0
    caption: CaptionLayout = field(default_factory=CaptionLayout)
    model: str | None = None

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise InvalidFlow("; ".join(problems))


def spec_problems(spec: FlowSpec) -> list[str]:
    """Every rule ``spec`` breaks, as messages (empty when valid)."""
    problems: list[str] = []
    if not re.fullmatch(STREAM_NAME_PATTERN, spec.name):
        problems.append("name must be 1-64 characters from A-Z, a-z, 0-9 and _")
    if spec.source not in KNOWN_SOURCES:
        problems.append(f"source must be one of {', '.join(KNOWN_SOURCES)}")
    elif spec.source == "url_pull":
        problem = pull_url_problem(spec.url or "")
        if problem:
            problems.append(problem)
    elif spec.url is not None:
        problems.append(f"url is only for url_pull flows, not {spec.source}")
    langs = (spec.source_language, *spec.target_languages)
    if not all(re.fullmatch(LANGUAGE_PATTERN, lang) for lang in langs):
        problems.append("language codes must look like 'en' or 'es-419'")
    if len(set(langs)) != len(langs):
        problems.append("target_languages must be distinct and differ from source_language")
    if len(spec.target_languages) > MAX_TARGET_LANGUAGES:
        problems.append(f"at most {MAX_TARGET_LANGUAGES} target languages")
    if not MAX_LATENCY_RANGE[0] <= spec.max_latency <= MAX_LATENCY_RANGE[1]:
        problems.append("max_latency must be between 1 and 60 seconds")
    if not CHARS_PER_LINE_RANGE[0] <= spec.caption.max_chars_per_line <= CHARS_PER_LINE_RANGE[1]:
        problems.append("caption.max_chars_per_line must be between 10 and 80")
    if not LINES_RANGE[0] <= spec.caption.max_lines <= LINES_RANGE[1]:
        problems.append("caption.max_lines must be between 1 and 4")
    return problems


PULL_SCHEMES = ("rtmp", "rtmps", "srt", "http", "https", "file")


def pull_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a pulled source, or None."""
    if not url or len(url) > 2048 or any(c.isspace() for c in url):
        return "url_pull needs a url: at most 2048 characters, no spaces"
    parts = urlsplit(url)
    if not parts.scheme:
        return None if url.startswith("/") else "url must be absolute (scheme://... or /path)"
    scheme = parts.scheme.lower()
    if scheme not in PULL_SCHEMES:
        return f"url scheme must be one of {', '.join(PULL_SCHEMES)}"
    if scheme == "file":
        return None if parts.path.startswith("/") else "file URLs need an absolute path"
    if not parts.hostname:
        return "url must name a host"
    if scheme == "srt" and "mode=listener" in parts.query:
        return "a pulled SRT source is called, not listened for: use srt_push to receive SRT"
    return None


def new_stream_key() -> str:
    """A random URL-safe publisher key (192 bits)."""
    return secrets.token_urlsafe(24)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """A stored flow."""

    flow_id: str
    name: str
    source: str
    url: str | None
    source_language: str
    target_languages: tuple[str, ...]
    max_latency: float
    caption: CaptionLayout
    model: str | None
    stream_key: str
    status: FlowStatus
    error: str | None
    created_at: datetime
    updated_at: datetime
    srt_port: int | None = None

    @property
    def stream_name(self) -> str:
        """The name viewers and tokens use; the same as ``name``."""
        return self.name

    @classmethod
    def new(
        cls, spec: FlowSpec, now: datetime | None = None, srt_port: int | None = None
    ) -> FlowRecord:
        """A fresh ``created`` record for ``spec`` with a new id and stream key."""
        now = now or utcnow()
        return cls(
            flow_id=uuid.uuid4().hex,
            name=spec.name,
            source=spec.source,
            url=spec.url,
            source_language=spec.source_language,
            target_languages=spec.target_languages,
            max_latency=spec.max_latency,
            caption=spec.caption,
            model=spec.model,
            stream_key=new_stream_key(),
            status=FlowStatus.CREATED,
            error=None,
            created_at=now,
            updated_at=now,
            srt_port=srt_port,
        )


class FlowStore(Protocol):
    """Persistent flows. Every method is a short management call."""

    async def create(self, spec: FlowSpec) -> FlowRecord:
        """Store a new flow (an ``srt_push`` flow with an SRT port of its own).
        Raises StreamNameTaken, NoFreePort."""
        ...

    async def get(self, flow_id: str) -> FlowRecord:
        """The flow with ``flow_id``. Raises NotFound (also for deleted flows)."""
        ...

    async def get_by_stream_key(self, stream_key: str) -> FlowRecord | None:
        """The flow a publisher's key belongs to, or None."""
        ...

    async def get_by_stream_name(self, stream_name: str) -> FlowRecord | None:
        """The flow with this stream name (case-insensitive), or None."""
        ...

    async def list(self) -> list[FlowRecord]:
        """Every flow not deleted, oldest first."""
        ...

    async def update_status(
        self, flow_id: str, status: FlowStatus, error: str | None = None
    ) -> FlowRecord:
        """Move a flow to ``status`` (atomically checked against ``TRANSITIONS``).

        ``error`` is kept with ``error`` status and cleared otherwise. Raises NotFound,
        InvalidTransition.
        """
        ...

    async def delete(self, flow_id: str) -> None:
        """Delete a flow; its stream name becomes free. Raises NotFound."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...
