"""What the web app is built from: the services it serves, its settings, the runtime hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from captioncast.auth.apikey import ApiKey
from captioncast.auth.tokens import TokenAuthority
from captioncast.bus.base import Broker
from captioncast.core.channels import ChannelRegistry, flow_channels
from captioncast.engines.mt.catalog import TranslatorSet
from captioncast.store.base import FlowRecord, FlowStore
from captioncast.store.transcripts import TranscriptStore

if TYPE_CHECKING:
    from captioncast.web.pusher.endpoint import PusherGateway
    from captioncast.web.ws_endpoint import ConnectionSet


class FlowRuntime(Protocol):
    """Runs flows: the part of captioncast that owns ingest and pipelines."""

    async def start(self, flow: FlowRecord) -> None:
        """Begin accepting the flow's publisher. The flow is ``starting`` when called;
        the runtime moves it to ``live`` (through the store) once media arrives."""
        ...

    async def stop(self, flow: FlowRecord) -> None:
        """Flush, publish the end of stream, and return; the API then marks it ``ended``."""
        ...

    def rtmp_url(self, flow: FlowRecord) -> str:
        """Where the publisher pushes to, without the stream key (``rtmp://host:1935/live``)."""
        ...

    def srt_host(self) -> str:
        """The host SRT publishers call (each ``srt_push`` flow has a port of its own)."""
        ...

    def ingest_state(self, flow_id: str) -> dict[str, object] | None:
        """The running flow's source: ``connected``, ``publishers``, ``audio_seconds`` and
        ``gaps`` (``at`` audio time, ``seconds`` lost); None when it is not running."""
        ...


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Tunables of the REST API and the WebSocket endpoint (seconds, counts)."""

    token_ttl_default: int = 3600
    token_ttl_min: int = 10
    token_ttl_max: int = 86_400
    ws_auth_timeout: float = 10.0
    ws_max_age: float = 7200.0
    ws_max_subscriptions: int = 32
    ws_max_message_chars: int = 4096
    ws_send_timeout: float = 10.0
    ws_close_timeout: float = 2.0


def _connection_set() -> ConnectionSet:
    from captioncast.web.ws_endpoint import ConnectionSet

    return ConnectionSet()


@dataclass
class Services:
    """Everything the app serves; built by the caller, shared by every request.

    ``transcripts`` keeps every final caption block; the runtime appends to it and
    ``GET /v1/flows/{id}/transcript`` reads it.

    ``connections`` tracks open WebSocket connections; call
    ``await services.connections.close_all()`` before the server stops so viewers get
    1001 Going Away (uvicorn itself would close them with 1012).

    ``pusher``, when set, serves the Pusher protocol (docs/pusher.md); its connections are
    its own: ``await services.pusher.close_all()`` closes them with 1001 at shutdown.
    """

    store: FlowStore
    broker: Broker
    channels: ChannelRegistry
    tokens: TokenAuthority
    api_key: ApiKey
    runtime: FlowRuntime
    transcripts: TranscriptStore
    settings: WebSettings = field(default_factory=WebSettings)
    connections: ConnectionSet = field(default_factory=_connection_set)
    translators: TranslatorSet | None = None  # None: no /v1/languages, no pair check
    hls_dir: Path | None = None  # HLS output root (``<hls_dir>/<stream name>/``); None: off
    pusher: PusherGateway | None = None  # Pusher-compatible endpoints (docs/pusher.md); None: off

    def open_channels(self, flow: FlowRecord) -> None:
        """Register the flow's channels with the registry and the broker (idempotent)."""
        infos = flow_channels(
            flow.flow_id, flow.stream_name, flow.source_language, flow.target_languages
        )
        self.channels.register_all(infos)
        for info in infos:
            self.broker.register(info)

    def close_channels(self, flow_id: str) -> None:
        """Forget the flow's channels; their subscribers are told the channel closed."""
        for info in self.channels.unregister_flow(flow_id):
            self.broker.close(info.name)

    async def restore_channels(self) -> None:
        """Open the channels of every stored flow (at start-up)."""
        for flow in await self.store.list():
            self.open_channels(flow)
