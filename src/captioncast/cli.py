"""The ``captioncast`` command: ``serve``, ``demo``, ``subscribe``, ``keys``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from captioncast.auth.keys_cli import add_keys_parser
from captioncast.config import ServeConfig, env_defaults
from captioncast.errors import CaptioncastError


def _serve_args(p: argparse.ArgumentParser) -> None:
    d = ServeConfig()
    p.add_argument("--host", help=f"HTTP listen address (default {d.host})")
    p.add_argument("--port", type=int, help=f"HTTP port (default {d.port})")
    p.add_argument("--rtmp-host", help="RTMP listen address (default: --host)")
    p.add_argument("--rtmp-port", type=int, help=f"RTMP port (default {d.rtmp_port})")
    p.add_argument("--srt-host", help="SRT listen address for srt_push flows (default: --host)")
    p.add_argument("--srt-ports", help=f"port range of srt_push flows (default {d.srt_ports})")
    p.add_argument("--public-host", help="host name publishers and viewers use in URLs")
    p.add_argument("--data-dir", type=Path, help=f"flows, keys (default {d.data_dir})")
    p.add_argument("--model", help="ASR model: base, tiny.en or a CTranslate2 directory")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--vad", help="voice activity detector: silero or energy")
    p.add_argument("--log-level", help="debug, info, warning, error")
    p.add_argument(
        "--translation-engines",
        help="translation engines in order (default apertium,libretranslate,deepl)",
    )
    p.add_argument("--libretranslate-url", help="a LibreTranslate-compatible API for translation")
    p.add_argument("--libretranslate-api-key", help="its API key, if it needs one")
    p.add_argument("--deepl-api-key", help="a DeepL API key for translation")
    p.add_argument("--deepl-url", help="DeepL-style API URL (default: DeepL's free API)")
    p.add_argument("--pusher-app-id", help="Pusher app id, digits (default 1)")
    p.add_argument("--pusher-key", help="serve the Pusher protocol with this app key")
    p.add_argument(
        "--pusher-secret", help="Pusher app secret (default: generated, kept in the data dir)"
    )
    p.add_argument(
        "--pusher-public-channels",
        action="store_true",
        default=None,
        help="let anyone with the key read caption channels as public Pusher channels",
    )
    p.add_argument(
        "--ws-compression",
        action="store_true",
        default=None,
        help="offer permessage-deflate to viewers (less bandwidth, far more CPU per viewer)",
    )


def serve_config(args: argparse.Namespace) -> ServeConfig:
    """Flags win over ``CAPTIONCAST_*`` variables, which win over the defaults."""
    values: dict[str, object] = env_defaults()
    for field in dataclasses.fields(ServeConfig):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    return ServeConfig(**values)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="captioncast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the captioning server")
    _serve_args(serve)

    demo = sub.add_parser("demo", help="server + a speech recording published to it")
    _serve_args(demo)
    demo.add_argument("--input", type=Path, help="media file to publish (default: synthesized)")
    demo.add_argument("--keep-running", action="store_true", help="keep serving after the demo")

    subscribe = sub.add_parser("subscribe", help="print a channel's captions live")
    subscribe.add_argument("channel", help="e.g. demo-en-en")
    subscribe.add_argument("--url", default="ws://127.0.0.1:8080/v1/ws")
    subscribe.add_argument("--token", required=True, help="viewer token (POST /v1/tokens)")
    subscribe.add_argument(
        "--mode",
        choices=["live", "captions", "transcript"],
        default="live",
        help="live: words as recognized plus caption blocks (default); captions: caption "
        "blocks only; transcript: the transcript, final lines kept",
    )

    add_keys_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            config = serve_config(args)
            _logging(config.log_level)
            from captioncast.server import serve

            asyncio.run(serve(config))
        elif args.command == "demo":
            config = serve_config(args)
            _logging("warning")
            from captioncast.demo import run_demo

            status: int = asyncio.run(run_demo(config, args.input, args.keep_running))
            return status
        elif args.command == "subscribe":
            from captioncast.client import run_subscriber

            asyncio.run(run_subscriber(args.url, args.token, args.channel, args.mode))
        elif args.command == "keys":
            from captioncast.auth.keys_cli import run_keys

            return run_keys(args)
    except CaptioncastError as e:
        print(f"captioncast: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # faster-whisper logs every decode at INFO: several lines a second on a live flow.
    logging.getLogger("faster_whisper").setLevel(max(logging.WARNING, logging.root.level))
    # The WebSocket library logs every frame at DEBUG: thousands a minute per viewer.
    logging.getLogger("websockets").setLevel(max(logging.INFO, logging.root.level))


if __name__ == "__main__":
    sys.exit(main())
