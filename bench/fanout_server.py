"""The server side of ``bench/fanout``: the real web app, and a publisher on one channel.

Builds the services the way ``captioncast serve`` does (SQLite flow and transcript stores in
``--data-dir``, the token key and API key there, a MemoryBroker, a ChannelRegistry), creates
one flow, and serves ``create_app`` with uvicorn configured as ``captioncast.server.build``
does. Instead of ingest and speech recognition, a publisher task publishes one final caption
message (~1 KB) on the flow's channel every ``--interval`` seconds, with the wall-clock
publish time in ``start_epoch``; viewers subtract it from their arrival time.

Every publish is appended to ``publishes.jsonl`` in the data dir (seq, wall time, how late
the timer fired). SIGUSR1 and SIGUSR2 open and close the measuring window: the garbage
collector's pauses go to ``gc.json``, and with ``--profile`` a cProfile report of the event
loop to ``profile.txt``. SIGINT/SIGTERM stop the server.

    python bench/fanout_server.py --data-dir DIR --port PORT [--interval 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import logging
import pstats
import resource
import signal
import sys
import sysconfig
import time
import uuid
from pathlib import Path
from typing import TextIO

import uvicorn
from fanout_experiments import EXPERIMENTS

from captioncast.auth.apikey import load_api_key
from captioncast.auth.tokens import TokenAuthority
from captioncast.bus.memory import MemoryBroker
from captioncast.core.channels import ChannelRegistry, flow_channels
from captioncast.core.messages import Response, ResponseContext, ResponseType, build_response
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word
from captioncast.server import HttpServer, tune_garbage_collector
from captioncast.store.base import FlowRecord, FlowSpec
from captioncast.store.sqlite import SqliteFlowStore
from captioncast.store.transcripts import SqliteTranscriptStore
from captioncast.web.app import create_app
from captioncast.web.services import Services

STREAM = "bench"
SENTENCES = [
    "Good evening, and welcome to the program.",
    "Tonight we look at the storm that crossed the northern coast on Tuesday.",
    "Officials say the water has started to recede in most of the valley towns.",
    "Schools will reopen on Monday, although some roads remain closed.",
    "In other news, the city council approved the new budget after a long debate.",
    "The vote was seven to two, with both members of the opposition against.",
]


class IdleRuntime:
    """The flow runtime of a server without ingest: flows never start."""

    async def start(self, flow: FlowRecord) -> None:
        raise RuntimeError("the fan-out bench has no ingest")

    async def stop(self, flow: FlowRecord) -> None:
        return None

    def rtmp_url(self, flow: FlowRecord) -> str:
        return "rtmp://127.0.0.1:1935/live"

    def srt_host(self) -> str:
        return "127.0.0.1"

    def ingest_state(self, flow_id: str) -> dict[str, object] | None:
        return None


class CaptionScript:
    """Final transcripts and caption blocks, alternating, each about 1 KB on the wire.

    Both kinds are finals: the broker queues every one for every viewer, so a viewer that
    misses one has lost a message.
    """

    def __init__(self, language: str, words_per_message: int = 5) -> None:
        self.language = language
        self.speaker = str(uuid.uuid4())
        self.words = [w for s in SENTENCES for w in s.split()]
        self.per_message = words_per_message
        self.audio_time = 0.0
        self.count = 0

    def next(self, published: float, span: float) -> Response:
        """The next message, stamped with ``published`` as ``start_epoch``."""
        first = self.count * self.per_message
        texts = [self.words[(first + i) % len(self.words)] for i in range(self.per_message)]
        step = span / len(texts)
        start = self.audio_time
        words = [Word(t, start + i * step, start + (i + 0.8) * step) for i, t in enumerate(texts)]
        ctx = ResponseContext(
            self.language, "transcription", self.speaker,
            lambda at: TimePoint(at, at, published, None),
        )  # fmt: skip
        kind: ResponseType = "captions" if self.count % 2 else "transcript"
        lines = [" ".join(texts[:3]), " ".join(texts[3:])] if kind == "captions" else None
        self.count += 1
        self.audio_time += span
        return build_response(
            ctx, response_id=uuid.uuid4().hex, type=kind, words=words, start=start,
            end=start + span, is_final=True, lines=lines,
        )  # fmt: skip


def build_services(data_dir: Path) -> Services:
    """The services of ``captioncast serve``, without ingest or models."""
    return Services(
        store=SqliteFlowStore.in_data_dir(data_dir),
        broker=MemoryBroker(),
        channels=ChannelRegistry(),
        tokens=TokenAuthority.in_data_dir(data_dir),
        api_key=load_api_key(data_dir),
        runtime=IdleRuntime(),
        transcripts=SqliteTranscriptStore.in_data_dir(data_dir),
    )


async def publish_every(
    broker: MemoryBroker, channel: str, script: CaptionScript, interval: float, log: TextIO
) -> None:
    """One message every ``interval`` seconds on a fixed schedule; a late tick is logged."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
        lag = loop.time() - due
        published = time.time()
        envelope = broker.publish_nowait(channel, script.next(published, interval))
        log.write(json.dumps({"seq": envelope.seq, "at": published, "lag": round(lag, 6)}) + "\n")
        log.flush()
        due = max(due, loop.time() - interval)  # after a stall, do not publish in a burst


async def serve(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir
    services = build_services(data_dir)
    flow = await services.store.create(FlowSpec(name=STREAM, source_language="en"))
    await services.restore_channels()  # as serve() does at start-up: opens the flow's channels
    channel = flow_channels(flow.flow_id, flow.stream_name, "en", ())[0].name
    script = CaptionScript("en")
    # Fill the channel's history first, so that the replay log is at its steady size when
    # the memory baseline is taken and does not count as per-connection memory.
    broker = services.broker
    assert isinstance(broker, MemoryBroker)
    for _ in range(broker.history):
        broker.publish_nowait(channel, script.next(time.time(), args.interval))
    if args.gc_threshold is None:
        tune_garbage_collector()  # as ``captioncast serve`` does once it has started up
    http = HttpServer(
        uvicorn.Config(
            create_app(services), host="127.0.0.1", port=args.port, log_level=args.log_level,
            lifespan="off", ws="websockets-sansio",
            ws_max_size=16 * services.settings.ws_max_message_chars,
            ws_per_message_deflate="ws-compression" in args.experiment,
        )
    )  # fmt: skip
    http.on_exit = services.connections.close_all
    serving = asyncio.create_task(http.serve())
    while not http.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    install_window_probe(data_dir, args.profile)
    size = len(broker.publish_nowait(channel, script.next(time.time(), args.interval)).text)
    with (data_dir / "publishes.jsonl").open("w") as log:
        publisher = asyncio.create_task(publish_every(broker, channel, script, args.interval, log))
        print(json.dumps({"channel": channel, "message_bytes": size}), flush=True)
        try:
            await serving
        finally:
            publisher.cancel()
            await services.store.close()
            await services.transcripts.close()


class GcPauses:
    """How often and how long the garbage collector stopped the process, per generation."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.reset()
        gc.callbacks.append(self._on_gc)

    def reset(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            f"gen{gen}": {"collections": len(p), "seconds": round(sum(p), 3),
                          "max_ms": round(max(p, default=0.0) * 1000, 1)}
            for gen, p in self.pauses.items()
        }  # fmt: skip

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.pauses[info["generation"]].append(time.perf_counter() - self.started)


def _short_paths(text: str) -> str:
    """Source paths relative to the repository, the standard library or site-packages."""
    paths = sysconfig.get_paths()
    for root in (paths["purelib"], paths["stdlib"], str(Path(__file__).resolve().parent.parent)):
        text = text.replace(root + "/", "")
    return text


def install_window_probe(data_dir: Path, profile: bool) -> None:
    """SIGUSR1 opens the measuring window, SIGUSR2 closes it: the GC pauses before and in
    the window go to ``gc.json``; with ``profile``, cProfile's report to ``profile.txt``."""
    loop = asyncio.get_running_loop()
    pauses = GcPauses()
    profiler = cProfile.Profile()
    before: dict[str, dict[str, float]] = {}

    def start() -> None:
        before.update(pauses.summary())
        pauses.reset()
        if profile:
            profiler.enable()

    def stop() -> None:
        if profile:
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(35)
            stats.sort_stats("cumtime").print_stats(45)
            (data_dir / "profile.txt").write_text(_short_paths(out.getvalue()))
        gc_report = {
            "before_window": before, "window": pauses.summary(),
            "tracked_objects_after_window": len(gc.get_objects()),
        }  # fmt: skip
        (data_dir / "gc.json").write_text(json.dumps(gc_report))

    loop.add_signal_handler(signal.SIGUSR1, start)
    loop.add_signal_handler(signal.SIGUSR2, stop)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--profile", action="store_true", help="cProfile the window")
    parser.add_argument("--experiment", action="append", default=[], choices=EXPERIMENTS)
    parser.add_argument(
        "--gc-threshold", type=int,
        help="experiment: the collector's first threshold (Python's default 700; 0 turns "
        "automatic collection off) instead of the default",
    )  # fmt: skip
    parser.add_argument("--log-level", default="info", help="as `captioncast serve` (info)")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    for name in args.experiment:
        EXPERIMENTS[name]()
    if args.gc_threshold is not None:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
