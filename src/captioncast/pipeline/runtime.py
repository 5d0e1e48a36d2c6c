"""The flows that are running in this process, and what a publisher connects to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from captioncast.bus.base import Broker
from captioncast.core.audio import PcmFrame
from captioncast.core.channels import flow_channels
from captioncast.core.policy import PolicyConfig
from captioncast.engines.asr.base import AsrEngine
from captioncast.engines.vad.base import VadModel
from captioncast.errors import StoreError
from captioncast.pipeline.flow import AudioDecoder, FlowRun, PublisherSession
from captioncast.pipeline.recognizer import Recognizer
from captioncast.store.base import FlowRecord, FlowStatus, FlowStore

log = logging.getLogger(__name__)

EngineLoader = Callable[[str], AsrEngine]
VadFactory = Callable[[], VadModel]
DecoderFactory = Callable[[Callable[[PcmFrame], None], Callable[[str], None]], AudioDecoder]


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    public_host: str = "127.0.0.1"
    rtmp_port: int = 1935
    rtmp_app: str = "live"
    default_model: str = "base"


def policy_config(max_latency: float) -> PolicyConfig:
    """Streaming settings for a flow: words are forced final early enough that a caption
    block made of them can still go out within ``max_latency``."""
    return PolicyConfig(min_step=0.3, commit_after=min(max(max_latency - 3.0, 1.0), 10.0))


class EngineCache:
    """ASR engines by model spec, loaded once (in the worker executor) and shared."""

    def __init__(self, loader: EngineLoader, executor: ThreadPoolExecutor) -> None:
        self._loader = loader
        self._executor = executor
        self._engines: dict[str, AsrEngine] = {}
        self._lock = asyncio.Lock()

    async def get(self, spec: str) -> AsrEngine:
        async with self._lock:
            if spec not in self._engines:
                loop = asyncio.get_running_loop()
                self._engines[spec] = await loop.run_in_executor(self._executor, self._loader, spec)
            return self._engines[spec]


class PipelineRuntime:
    """Starts and stops :class:`FlowRun`s and hands publishers to them by stream key.

    Inference runs in one worker thread shared by every flow (the engine itself uses all
    cores), so the event loop never waits on a decode.
    """

    def __init__(
        self,
        broker: Broker,
        engines: EngineCache,
        executor: ThreadPoolExecutor,
        vad_factory: VadFactory,
        decoder_factory: DecoderFactory,
        settings: RuntimeSettings,
        store: FlowStore | None = None,
    ) -> None:
        self.broker = broker
        self.engines = engines
        self.executor = executor
        self.vad_factory = vad_factory
        self.decoder_factory = decoder_factory
        self.settings = settings
        self.store = store
        self._runs: dict[str, FlowRun] = {}
        self._by_key: dict[str, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._starting: set[str] = set()

    def rtmp_url(self, flow: FlowRecord) -> str:
        s = self.settings
        return f"rtmp://{s.public_host}:{s.rtmp_port}/{s.rtmp_app}"

    async def start(self, flow: FlowRecord) -> None:
        """Load the flow's model and start accepting its publisher. Idempotent.

        Loading can take seconds; a ``stop`` that arrives meanwhile wins, and the start
        ends without running anything.
        """
        if flow.flow_id in self._runs or flow.flow_id in self._starting:
            return
        self._starting.add(flow.flow_id)
        try:
            engine = await self.engines.get(flow.model or self.settings.default_model)
            loop = asyncio.get_running_loop()
            vad = await loop.run_in_executor(self.executor, self.vad_factory)
        finally:
            cancelled = flow.flow_id not in self._starting
            self._starting.discard(flow.flow_id)
        if cancelled:
            log.info("flow %s was stopped while it started", flow.flow_id)
            return
        recognizer = Recognizer(engine, vad, flow.source_language, policy_config(flow.max_latency))
        name = flow.stream_name
        source, *targets = flow_channels(
            flow.flow_id, name, flow.source_language, flow.target_languages
        )
        run = FlowRun(
            flow.flow_id,
            recognizer,
            self.broker,
            self.executor,
            source,
            targets,
            flow.caption,
            flow.max_latency,
            self.decoder_factory,
            on_error=lambda reason: self._fail(flow.flow_id, reason),
        )
        run.start()
        self._runs[flow.flow_id] = run
        self._by_key[flow.stream_key] = flow.flow_id
        if flow.status != FlowStatus.LIVE:
            await self._set_status(flow.flow_id, FlowStatus.LIVE)
        log.info("flow %s (%s) is live", flow.flow_id, name)

    async def stop(self, flow: FlowRecord) -> None:
        """Flush and end the flow's channels. Idempotent."""
        self._starting.discard(flow.flow_id)
        run = self._runs.pop(flow.flow_id, None)
        self._by_key.pop(flow.stream_key, None)
        if run is not None:
            await run.stop()
            log.info("flow %s ended", flow.flow_id)

    async def shutdown(self) -> None:
        """Stop every run for a server shutdown: pending words are published, but no end of
        stream, since the flows stay live and resume at the next start."""
        self._starting.clear()
        self._by_key.clear()
        runs, self._runs = self._runs, {}
        for flow_id, run in runs.items():
            try:
                await run.stop(end_of_stream=False)
            except Exception:
                log.exception("flow %s did not stop cleanly", flow_id)

    async def _set_status(self, flow_id: str, status: FlowStatus, error: str | None = None) -> None:
        if self.store is None:
            return
        try:
            await self.store.update_status(flow_id, status, error)
        except StoreError as e:
            log.warning("flow %s: cannot mark %s: %s", flow_id, status.value, e)

    def _fail(self, flow_id: str, reason: str) -> None:
        """A source the flow cannot use (no decodable audio): record why, stop the flow."""
        log.error("flow %s: %s", flow_id, reason)
        run = self._runs.pop(flow_id, None)
        for key, fid in list(self._by_key.items()):
            if fid == flow_id:
                del self._by_key[key]

        async def fail() -> None:
            if run is not None:
                await run.stop()
            await self._set_status(flow_id, FlowStatus.ERROR, reason)

        task = asyncio.get_running_loop().create_task(fail())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def authorize(self, app: str, stream_key: str) -> PublisherSession | None:
        """A publisher session on the live flow that ``stream_key`` selects, or None (the
        publish is refused: unknown key, or a flow that is not started)."""
        flow_id = self._by_key.get(stream_key) if app == self.settings.rtmp_app else None
        run = self._runs.get(flow_id) if flow_id else None
        if run is None:
            log.warning("refused publish to app %r with an unknown stream key", app)
            return None
        return run.open_publisher()
