"""``captioncast serve``: the whole service in one process.

Start-up, step by step: open the data directory (flows, API key, token key), build the broker
(it loads the channel history kept there), the worker thread for inference and the flow
runtime, start the RTMP listener, restart the flows that were running when the process last
stopped, then serve HTTP and WebSocket.
Shutdown, in reverse: stop accepting publishers, tell viewers 1001 Going Away, let the running
flows flush (they stay ``live`` in the store and resume at the next start), write the channel
history out, close the stores.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType

import numpy as np
import uvicorn

from captioncast.auth.apikey import load_api_key
from captioncast.auth.tokens import TokenAuthority
from captioncast.bus.memory import MemoryBroker
from captioncast.config import ServeConfig
from captioncast.core.audio import SAMPLE_RATE
from captioncast.core.channels import ChannelRegistry
from captioncast.engines.asr.base import AsrEngine
from captioncast.engines.asr.registry import load_asr_engine
from captioncast.engines.mt.catalog import TranslationSettings, translators_from_settings
from captioncast.engines.vad.base import VadModel
from captioncast.engines.vad.registry import load_vad
from captioncast.ingest.decoder import FlvAudioDecoder
from captioncast.ingest.rtmp.server import RtmpServer
from captioncast.pipeline.runtime import EngineCache, PipelineRuntime, RuntimeSettings
from captioncast.store.base import ACTIVE_STATUSES, FlowStatus
from captioncast.store.history import SqliteChannelHistory
from captioncast.store.sqlite import SqliteFlowStore
from captioncast.store.transcripts import SqliteTranscriptStore
from captioncast.web.app import create_app
from captioncast.web.pusher import PusherApp, PusherGateway, load_pusher_secret
from captioncast.web.services import Services

log = logging.getLogger(__name__)


@dataclass
class Server:
    """A running captioncast: its services, the HTTP server and the RTMP listener."""

    config: ServeConfig
    services: Services
    runtime: PipelineRuntime
    rtmp: RtmpServer
    http: uvicorn.Server
    executor: ThreadPoolExecutor


async def build(config: ServeConfig) -> Server:
    data_dir = config.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    api_key = load_api_key(data_dir)
    if api_key.generated:
        print(f"captioncast: generated a management API key (stored in {data_dir}):")
        print(f"  {api_key.value}", flush=True)
    store = SqliteFlowStore.in_data_dir(data_dir, config.srt_port_range)
    transcripts = SqliteTranscriptStore.in_data_dir(data_dir)
    broker = MemoryBroker(history_store=SqliteChannelHistory.in_data_dir(data_dir))
    await broker.start()  # before any channel is registered: stored channels go on
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    def load_engine(spec: str) -> AsrEngine:
        # One inference thread per core: CTranslate2's default of four oversubscribes a
        # small machine and slows every decode.
        engine = load_asr_engine(
            "faster-whisper", spec, device=config.device, cpu_threads=os.cpu_count() or 0
        )
        # The first decode pays for memory allocation; pay it before a flow's first words.
        engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), prompt="", language="en")
        return engine

    def new_vad() -> VadModel:
        return load_vad(config.vad)

    translators = translators_from_settings(
        TranslationSettings(
            engines=tuple(e.strip() for e in config.translation_engines.split(",") if e.strip()),
            libretranslate_url=config.libretranslate_url,
            libretranslate_api_key=config.libretranslate_api_key,
            deepl_api_key=config.deepl_api_key,
            deepl_url=config.deepl_url,
        )
    )
    runtime = PipelineRuntime(
        broker,
        EngineCache(load_engine, executor),
        executor,
        new_vad,
        FlvAudioDecoder,
        RuntimeSettings(
            config.advertised_host,
            config.rtmp_port,
            default_model=config.model,
            srt_listen_host=config.srt_host or config.host,
            hls_dir=data_dir / "hls",
        ),
        store,
        transcripts,
        translators,
    )
    channels = ChannelRegistry()
    pusher = None
    if config.pusher_key:
        secret = load_pusher_secret(data_dir, config.pusher_secret)
        if secret.source == "generated":
            print(f"captioncast: generated a Pusher app secret (stored in {data_dir}):")
            print(f"  {secret.value}", flush=True)
        pusher_app = PusherApp(
            config.pusher_app_id,
            config.pusher_key,
            secret.value,
            allow_public_channels=config.pusher_public_channels,
        )
        pusher = PusherGateway(pusher_app, broker, channels.resolve)
    services = Services(
        store=store,
        broker=broker,
        channels=channels,
        tokens=TokenAuthority.in_data_dir(data_dir),
        api_key=api_key,
        runtime=runtime,
        transcripts=transcripts,
        hls_dir=data_dir / "hls",
        pusher=pusher,
        translators=translators,
    )
    rtmp = RtmpServer(
        runtime.authorize, host=config.rtmp_host or config.host, port=config.rtmp_port
    )
    app = create_app(services)
    http = HttpServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            lifespan="off",
            ws="websockets-sansio",
            # Off by default: deflate compresses each message once per viewer, with a
            # compressor per connection, which costs more CPU than the whole fan-out.
            ws_per_message_deflate=config.ws_compression,
            # The protocol's messages are small; refuse big frames before parsing them.
            ws_max_size=16 * services.settings.ws_max_message_chars,
        )
    )
    server = Server(config, services, runtime, rtmp, http, executor)
    http.on_exit = lambda: _drain(server)
    return server


class HttpServer(uvicorn.Server):
    """uvicorn, with a shutdown that first lets captioncast drain.

    uvicorn's signal handler would close every WebSocket with 1012 at once; here the first
    SIGINT/SIGTERM runs ``on_exit`` (publishers dropped, pending words published, viewers
    told 1001 Going Away) and only then lets uvicorn stop. A second signal forces the exit.
    """

    on_exit: Callable[[], Awaitable[None]] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in the signal handler: only hand the work to the loop from here. Not calling
        # uvicorn's handler also keeps it from re-raising the signal once serve() returns,
        # so the rest of the shutdown runs.
        if self._loop is None or self.on_exit is None or self._draining is not None:
            super().handle_exit(sig, frame)
            return
        self._loop.call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        if self._draining is not None or self.on_exit is None:
            return
        on_exit = self.on_exit

        async def drain_then_exit() -> None:
            try:
                await on_exit()
            finally:
                self.should_exit = True

        self._draining = asyncio.get_running_loop().create_task(drain_then_exit())


async def restore_flows(server: Server) -> None:
    """Open every flow's channels; restart those that were running when the process
    stopped, and finish those that were stopping."""
    store = server.services.store
    await server.services.restore_channels()
    for flow in await store.list():
        if flow.status == FlowStatus.STOPPING:
            await store.update_status(flow.flow_id, FlowStatus.ENDED)
        elif flow.status in ACTIVE_STATUSES:
            try:
                await server.runtime.start(flow)
            except Exception:  # a flow that cannot restart must not stop the others
                log.exception("flow %s could not restart", flow.flow_id)
                await store.update_status(flow.flow_id, FlowStatus.ERROR, "restart failed")


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections. Every caption message makes short-lived objects on every
    viewer connection; with the default thresholds a full collection over everything follows
    every few seconds, and with thousands of viewers each one stops delivery for up to a
    second (bench/results/fanout.md). What exists at start-up (the model, the app) is moved
    out of the collector's sight."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


async def serve(config: ServeConfig) -> None:
    server = await build(config)
    # Load the default model before taking traffic, so the first flow starts at once.
    await server.runtime.engines.get(config.model)
    await server.rtmp.start()
    await restore_flows(server)
    tune_garbage_collector()
    print(
        f"captioncast: HTTP on http://{config.host}:{config.port}, "
        f"RTMP on rtmp://{config.rtmp_host or config.host}:{server.rtmp.port}/live",
        flush=True,
    )
    try:
        await server.http.serve()
    finally:
        await shutdown(server)


async def _drain(server: Server) -> None:
    """The first half of shutdown, while viewers are still connected."""
    await server.rtmp.close()  # publishers go; their last audio is decoded
    await server.runtime.shutdown()  # pending words are published, flows stay live
    await server.services.connections.close_all()  # viewers: 1001 Going Away
    if server.services.pusher is not None:
        await server.services.pusher.close_all()  # Pusher clients: 1001, pusher-js reconnects


async def shutdown(server: Server) -> None:
    """The second half, after the HTTP server stopped (and the first, if it never ran)."""
    try:
        await _drain(server)
        await server.services.broker.aclose()  # nothing publishes now: every final to disk
        await server.services.store.close()
        await server.services.transcripts.close()
    finally:
        # A decode may still be running in the inference thread: wait off the loop.
        await asyncio.to_thread(server.executor.shutdown, wait=True)
