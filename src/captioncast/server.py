"""``captioncast serve``: the whole service in one process.

Start-up, step by step: open the data directory (flows, API key, token key), build the broker,
the worker thread for inference and the flow runtime, start the RTMP listener, restart the
flows that were running when the process last stopped, then serve HTTP and WebSocket.
Shutdown, in reverse: stop accepting publishers, tell viewers 1001 Going Away, let the running
flows flush (they stay ``live`` in the store and resume at the next start), close the store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
from captioncast.engines.vad.base import VadModel
from captioncast.engines.vad.registry import load_vad
from captioncast.ingest.decoder import FlvAudioDecoder
from captioncast.ingest.rtmp.server import RtmpServer
from captioncast.pipeline.runtime import EngineCache, PipelineRuntime, RuntimeSettings
from captioncast.store.base import ACTIVE_STATUSES, FlowStatus
from captioncast.store.sqlite import SqliteFlowStore
from captioncast.web.app import create_app
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
    store = SqliteFlowStore.in_data_dir(data_dir)
    broker = MemoryBroker()
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

    runtime = PipelineRuntime(
        broker,
        EngineCache(load_engine, executor),
        executor,
        new_vad,
        FlvAudioDecoder,
        RuntimeSettings(config.advertised_host, config.rtmp_port, default_model=config.model),
        store,
    )
    services = Services(
        store=store,
        broker=broker,
        channels=ChannelRegistry(),
        tokens=TokenAuthority.in_data_dir(data_dir),
        api_key=api_key,
        runtime=runtime,
    )
    rtmp = RtmpServer(
        runtime.authorize, host=config.rtmp_host or config.host, port=config.rtmp_port
    )
    app = create_app(services)
    http = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            lifespan="off",
            ws="websockets-sansio",
        )
    )
    return Server(config, services, runtime, rtmp, http, executor)


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


async def serve(config: ServeConfig) -> None:
    server = await build(config)
    # Load the default model before taking traffic, so the first flow starts at once.
    await server.runtime.engines.get(config.model)
    await server.rtmp.start()
    await restore_flows(server)
    loop = asyncio.get_running_loop()
    exiting: list[asyncio.Task[None]] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: exiting.append(loop.create_task(_exit(server))))
    print(
        f"captioncast: HTTP on http://{config.host}:{config.port}, "
        f"RTMP on rtmp://{config.rtmp_host or config.host}:{server.rtmp.port}/live",
        flush=True,
    )
    try:
        await server.http.serve()
    finally:
        await shutdown(server)


async def _exit(server: Server) -> None:
    # Viewers hear 1001 Going Away from us before uvicorn closes what is left with 1012.
    await server.services.connections.close_all()
    server.http.should_exit = True


async def shutdown(server: Server) -> None:
    await server.rtmp.close()
    await server.services.connections.close_all()
    await server.runtime.stop_all()
    await server.services.store.close()
    server.executor.shutdown(wait=True)
