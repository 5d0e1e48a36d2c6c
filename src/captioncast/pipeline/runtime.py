"""The flows that are running in this process, and what a publisher connects to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from captioncast.bus.base import Broker
from captioncast.core.audio import PcmFrame
from captioncast.core.channels import ChannelInfo, flow_channels
from captioncast.core.messages import Response
from captioncast.core.policy import PolicyConfig
from captioncast.engines.asr.base import AsrEngine
from captioncast.engines.mt.catalog import (
    TranslationSettings,
    TranslatorSet,
    translators_from_settings,
)
from captioncast.engines.vad.base import VadModel
from captioncast.errors import StoreError
from captioncast.ingest.bridge import BridgeInput, FfmpegBridge, pull_input, srt_listener_input
from captioncast.ingest.hls import HlsOutput
from captioncast.pipeline.flow import AudioDecoder, CaptionSink, FlowRun, PublisherSession
from captioncast.pipeline.recognizer import Recognizer
from captioncast.store.base import FlowRecord, FlowStatus, FlowStore
from captioncast.store.transcripts import TranscriptStore

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
    srt_listen_host: str = "127.0.0.1"
    ffmpeg: str = "ffmpeg"
    hls_dir: Path | None = None  # the players' HLS, one directory per stream; None: none
    translation: TranslationSettings = field(default_factory=TranslationSettings)


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
        transcripts: TranscriptStore | None = None,
        translators: TranslatorSet | None = None,
    ) -> None:
        self.broker = broker
        self.engines = engines
        self.executor = executor
        self.vad_factory = vad_factory
        self.decoder_factory = decoder_factory
        self.settings = settings
        self.store = store
        self.transcripts = transcripts
        # The engines every flow's translated channels share (built from the settings when
        # not given; nothing is contacted until a flow starts).
        if translators is None:
            translators = translators_from_settings(settings.translation)
        self.translators = translators
        self._runs: dict[str, FlowRun] = {}
        self._bridges: dict[str, FfmpegBridge] = {}
        self._by_key: dict[str, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._starting: set[str] = set()

    def rtmp_url(self, flow: FlowRecord) -> str:
        s = self.settings
        return f"rtmp://{s.public_host}:{s.rtmp_port}/{s.rtmp_app}"

    def srt_host(self) -> str:
        return self.settings.public_host

    def ingest_state(self, flow_id: str) -> dict[str, object] | None:
        """The running flow's source state, or None when it is not running here."""
        run = self._runs.get(flow_id)
        return None if run is None else run.ingest_state()

    def translation_state(self, flow_id: str) -> dict[str, dict[str, object]] | None:
        """Per translated language of the running flow: engine, counts, latency, health;
        None when it is not running here."""
        run = self._runs.get(flow_id)
        return None if run is None else run.translation_state()

    def bridge_input(self, flow: FlowRecord) -> BridgeInput | None:
        """How ffmpeg reads the flow's source; None for RTMP, which comes to our server."""
        if flow.source == "srt_push" and flow.srt_port is not None:
            s = self.settings
            return srt_listener_input(s.srt_listen_host, flow.srt_port, flow.stream_key)
        if flow.source == "url_pull" and flow.url:
            return pull_input(flow.url)
        return None

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
            await asyncio.to_thread(self.translators.load)  # which engine serves which pair
        finally:
            cancelled = flow.flow_id not in self._starting
            self._starting.discard(flow.flow_id)
        if cancelled:
            log.info("flow %s was stopped while it started", flow.flow_id)
            return
        resume_at = await self._resume_time(flow.flow_id)
        playback = await self._playback(flow)
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
            on_caption=self._caption_keeper(flow),
            start_time=resume_at,
            playback=playback,
            translators=self.translators,
        )
        run.start()
        self._runs[flow.flow_id] = run
        source_input = self.bridge_input(flow)
        if source_input is None:
            self._by_key[flow.stream_key] = flow.flow_id
        else:
            bridge = FfmpegBridge(
                source_input,
                run.open_publisher,
                on_error=lambda reason: self._fail(flow.flow_id, reason),
                on_end=lambda: self._source_ended(flow.flow_id),
                ffmpeg=self.settings.ffmpeg,
            )
            bridge.start()
            self._bridges[flow.flow_id] = bridge
        if flow.status != FlowStatus.LIVE:
            await self._set_status(flow.flow_id, FlowStatus.LIVE)
        log.info("flow %s (%s) is live", flow.flow_id, name)

    async def stop(self, flow: FlowRecord) -> None:
        """Flush and end the flow's channels. Idempotent."""
        self._starting.discard(flow.flow_id)
        run = self._runs.pop(flow.flow_id, None)
        self._by_key.pop(flow.stream_key, None)
        bridge = self._bridges.pop(flow.flow_id, None)
        if bridge is not None:
            await bridge.stop()
        if run is not None:
            await run.stop()
            log.info("flow %s ended", flow.flow_id)

    async def shutdown(self) -> None:
        """Stop every run for a server shutdown: pending words are published, but no end of
        stream, since the flows stay live and resume at the next start."""
        self._starting.clear()
        self._by_key.clear()
        runs, self._runs = self._runs, {}
        bridges, self._bridges = self._bridges, {}
        await asyncio.gather(*(bridge.stop() for bridge in bridges.values()))
        for flow_id, run in runs.items():
            try:
                await run.stop(end_of_stream=False)
            except Exception:
                log.exception("flow %s did not stop cleanly", flow_id)
        await asyncio.to_thread(self.translators.close)

    async def _playback(self, flow: FlowRecord) -> HlsOutput | None:
        """The flow's HLS output, started; None when the server makes none."""
        hls_dir = self.settings.hls_dir
        if hls_dir is None:
            return None
        channels = flow_channels(
            flow.flow_id, flow.stream_name, flow.source_language, flow.target_languages
        )
        output = HlsOutput(
            hls_dir / flow.stream_name,
            [(c.name, c.language) for c in channels],
            caption_delay=flow.max_latency + 1.0,
            ffmpeg=self.settings.ffmpeg,
        )
        await output.start()
        return output

    async def _resume_time(self, flow_id: str) -> float:
        """Where a flow's audio clock starts: after the captions it already has, so that a
        flow restarted (or resumed after a server restart) never repeats a time."""
        if self.transcripts is None:
            return 0.0
        try:
            last = await self.transcripts.last_end(flow_id)
        except StoreError as e:
            log.warning("flow %s: cannot read its transcript: %s", flow_id, e)
            return 0.0
        return 0.0 if last is None else float(int(last) + 2)

    def _caption_keeper(self, flow: FlowRecord) -> CaptionSink | None:
        transcripts = self.transcripts
        if transcripts is None:
            return None

        async def keep(channel: ChannelInfo, response: Response) -> None:
            await transcripts.append(flow.flow_id, channel.name, response)

        return keep

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
        self._end_in_background(flow_id, FlowStatus.ERROR, reason)

    def _source_ended(self, flow_id: str) -> None:
        """A finite source (a file, a VOD playlist) played to its end: the flow ends."""
        log.info("flow %s: its source ended", flow_id)
        self._end_in_background(flow_id, FlowStatus.ENDED)

    def _end_in_background(
        self, flow_id: str, status: FlowStatus, reason: str | None = None
    ) -> None:
        run = self._runs.pop(flow_id, None)
        bridge = self._bridges.pop(flow_id, None)
        for key, fid in list(self._by_key.items()):
            if fid == flow_id:
                del self._by_key[key]

        async def end() -> None:
            if bridge is not None:
                await bridge.stop()
            if run is not None:
                await run.stop()
            await self._set_status(flow_id, status, reason)

        task = asyncio.get_running_loop().create_task(end())
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
