"""A flow's translations: one worker per target language, fed the source's final words.

:class:`FlowTranslations` groups the source words into spans (a pure
:class:`~captioncast.core.translation.SentenceCollector`) and hands every span to each
language's :class:`TranslationWorker`, which translates it on a thread of its own and
publishes a final ``transcript`` and the ``captions`` blocks on its channel.

Isolation: each worker has its own thread, queue and captioner, so a slow or failing engine
delays only its own channel; the source channel and the other languages never wait for it.

Backpressure (per worker): at most ``QUEUE_SPANS`` spans wait. When a span arrives at a full
queue it is merged into the newest waiting one (one request translates both, nothing is
lost); once that one holds ``MERGED_CHARS`` characters the oldest waiting span is dropped
instead, and counted.

Failures: a span whose translation fails is tried again after a backoff (0.5 s, doubling up
to 8 s) while later spans wait, up to ``ATTEMPTS`` times; then it is dropped and counted, and
the next span is tried. The first failure is logged as a warning, the recovery as info;
``state()`` shows ``healthy`` and ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from captioncast.core.captioner import Captioner
from captioncast.core.channels import ChannelInfo
from captioncast.core.layout import CaptionLayout
from captioncast.core.messages import Clock, Response, ResponseContext
from captioncast.core.policy import PolicyUpdate
from captioncast.core.translation import SentenceCollector, SourceSpan, translated_update
from captioncast.engines.mt.catalog import Route, TranslatorSet

log = logging.getLogger(__name__)

Publish = Callable[[str, list[Response]], Awaitable[None]]

QUEUE_SPANS = 8
MERGED_CHARS = 600
ATTEMPTS = 3
BACKOFF = (0.5, 8.0)  # first and longest wait before a failed span is tried again
CALL_LIMIT = 30.0  # seconds a translation may take before the worker stops waiting for it
DRAIN_LIMIT = 10.0  # seconds a stopping flow waits for spans still being translated


@dataclass
class TranslationStats:
    """What one language's worker did; seconds are engine time and audio-clock latency."""

    engine: str
    translated: int = 0
    failed: int = 0  # attempts that raised
    dropped: int = 0  # spans never published: queue overflow, or out of attempts
    merged: int = 0
    mean_seconds: float = 0.0  # engine time per span, moving average
    last_seconds: float = 0.0
    last_latency: float = 0.0  # first word's start to captions published, on the audio clock
    max_latency: float = 0.0
    late: int = 0  # spans published past the flow's max latency
    healthy: bool = True
    last_error: str | None = None


class TranslationWorker:
    """Translates one flow's spans into one language and publishes them on its channel."""

    def __init__(
        self,
        channel: ChannelInfo,
        route: Route,
        captioner: Captioner,
        publish: Publish,
        now: Callable[[], float],
        max_latency: float,
    ) -> None:
        self.channel = channel
        self.route = route
        self.captioner = captioner
        self.stats = TranslationStats(route.engine)
        self._publish = publish
        self._now = now
        self._max_latency = max_latency
        self._queue: deque[SourceSpan] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"mt-{channel.language}")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"translate-{self.channel.name}"
        )

    def submit(self, span: SourceSpan) -> None:
        """Queue a span (never blocks; see the module's backpressure policy)."""
        if len(self._queue) >= QUEUE_SPANS:
            newest = self._queue[-1]
            if len(newest.text) + len(span.text) < MERGED_CHARS:
                self._queue[-1] = newest.merged(span)
                self.stats.merged += 1
                return
            self._queue.popleft()
            self.stats.dropped += 1
            log.warning("%s: translation fell behind; a span was dropped", self.channel.name)
        self._queue.append(span)
        self._idle.clear()
        self._wake.set()

    async def stop(self, end_of_stream: bool) -> None:
        """Translate what is queued (for at most ``DRAIN_LIMIT`` seconds), then close the
        channel's stream when ``end_of_stream``."""
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), DRAIN_LIMIT)
        except TimeoutError:
            log.warning("%s: %d spans left untranslated", self.channel.name, len(self._queue))
            self.stats.dropped += len(self._queue)
            self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        closing = self.captioner.end_of_stream(self._now()) if end_of_stream else []
        await self._publish(self.channel.name, self.captioner.flush() + closing)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            span = self._queue.popleft()
            for attempt in range(1, ATTEMPTS + 1):
                if await self._translate(span):
                    break
                if attempt == ATTEMPTS or self._stopping:
                    self.stats.dropped += 1
                    break
                await asyncio.sleep(min(BACKOFF[0] * 2 ** (attempt - 1), BACKOFF[1]))

    async def _translate(self, span: SourceSpan) -> bool:
        """One attempt at ``span``: translate, publish; False when the engine failed."""
        route, loop = self.route, asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            call = loop.run_in_executor(
                self._executor, route.translator.translate, [span.text], route.source, route.target
            )
            (text,) = await asyncio.wait_for(call, CALL_LIMIT)
        except Exception as e:  # an engine bug must not end the worker either
            self._failed(e)
            return False
        seconds = time.perf_counter() - started
        self._recovered()
        responses = self.captioner.update(translated_update(text, span), self._now())
        await self._publish(self.channel.name, responses)
        self._account(span, seconds)
        return True

    def _account(self, span: SourceSpan, seconds: float) -> None:
        s = self.stats
        s.translated += 1
        s.last_seconds = seconds
        s.mean_seconds = seconds if s.translated == 1 else 0.8 * s.mean_seconds + 0.2 * seconds
        s.last_latency = self._now() - span.start
        s.max_latency = max(s.max_latency, s.last_latency)
        if s.last_latency > self._max_latency:
            s.late += 1
        log.debug(
            "%s: %s translated %d chars in %.3f s; captions %.2f s after the first word",
            self.channel.name, route_name(self.route), len(span.text), seconds, s.last_latency,
        )  # fmt: skip

    def _failed(self, error: BaseException) -> None:
        self.stats.failed += 1
        self.stats.last_error = str(error) or type(error).__name__
        if self.stats.healthy:
            log.warning("%s: translation failed: %s", self.channel.name, self.stats.last_error)
        self.stats.healthy = False

    def _recovered(self) -> None:
        if not self.stats.healthy:
            log.info("%s: translation works again", self.channel.name)
        self.stats.healthy = True


def route_name(route: Route) -> str:
    return f"{route.engine} {route.source}-{route.target}"


class FlowTranslations:
    """Every translated channel of one flow. Driven from the event loop by the flow run:
    ``push`` after each recognizer step, ``tick`` on the caption deadline timer."""

    def __init__(self, workers: Sequence[TranslationWorker], max_latency: float) -> None:
        self.workers = {w.channel.name: w for w in workers}
        self.collector = SentenceCollector(max_latency)
        self._max_latency = max_latency

    @classmethod
    def for_flow(
        cls,
        source: ChannelInfo,
        targets: Sequence[ChannelInfo],
        translators: TranslatorSet | None,
        layout: CaptionLayout,
        max_latency: float,
        speaker_id: str,
        clock: Clock,
        now: Callable[[], float],
        publish: Publish,
    ) -> FlowTranslations:
        """A worker for each target some engine translates the source into; the other
        targets get only their end of stream."""
        workers = []
        for target in targets:
            route = translators.route(source.language, target.language) if translators else None
            if route is None:
                log.info("%s: no engine translates %s to %s", target.name, source.language,
                         target.language)  # fmt: skip
                continue
            ctx = ResponseContext(target.language, "translation", speaker_id, clock)
            captioner = Captioner(ctx, layout, max_latency)
            workers.append(TranslationWorker(target, route, captioner, publish, now, max_latency))
        return cls(workers, max_latency)

    def handles(self, channel: str) -> bool:
        return channel in self.workers

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def push(self, updates: Sequence[PolicyUpdate], now: float) -> None:
        """The final words of one recognizer step."""
        if not self.workers:
            return
        for update in updates:
            next_start = update.tentative[0].start if update.tentative else None
            self._submit(
                self.collector.push(update.committed, now, update.utterance_ended, next_start)
            )

    def tick(self, now: float) -> None:
        if not self.workers:
            return
        expected = max(w.stats.mean_seconds for w in self.workers.values())
        self.collector.allowance = min(max(expected + 0.2, 0.3), self._max_latency / 2)
        self._submit(self.collector.tick(now))

    async def stop(self, end_of_stream: bool) -> None:
        """Translate the pending words and what is queued, then end (``end_of_stream``) or
        just stop every translated channel."""
        self._submit(self.collector.flush())
        await asyncio.gather(*(w.stop(end_of_stream) for w in self.workers.values()))

    def state(self) -> dict[str, dict[str, object]]:
        """Per target language: the engine, counts, latency and health."""
        return {w.channel.language: asdict(w.stats) for w in self.workers.values()}

    def _submit(self, spans: list[SourceSpan]) -> None:
        for span in spans:
            for worker in self.workers.values():
                worker.submit(span)
