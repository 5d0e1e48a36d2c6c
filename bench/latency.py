"""Latency and accuracy of live captions, measured end to end.

Publishes the benchmark recording in real time over RTMP (``ffmpeg -re``) into a fresh
``captioncast serve``, records every message a WebSocket viewer receives with its arrival time,
and reports per word how late it appeared (in any message, in a final transcript, in a caption
block) after it was spoken, the word error rate of the final text and of the captions next to
the same model's offline WER, partial-word flicker, and the server's CPU use.

    bench/latency [--model base] [--max-latency 5] [--sentences N] [--out bench/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "bench")]

import jiwer  # noqa: E402
from corpus import Corpus, corpus  # noqa: E402
from harness import ServerProcess, Viewer, publish, until_done  # noqa: E402
from reference import TimedWord, offline_reference  # noqa: E402

from captioncast.core.policy import normalize  # noqa: E402

MATCH_SECONDS = 0.7  # a received word matches a spoken one this close in time


@dataclass
class WordTimes:
    word: TimedWord
    display: float | None = None
    final: float | None = None
    caption: float | None = None


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def text_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in response["alternatives"][0]["items"] if i["kind"] == "text"]


def wer(reference: str, hypothesis: str) -> float:
    ref = " ".join(normalize(w) for w in reference.split())
    hyp = " ".join(normalize(w) for w in hypothesis.split())
    return round(float(jiwer.wer(ref, hyp)) * 100, 2)


def errors(reference: str, hypothesis: str) -> list[str]:
    """The word errors, as ``ref -> hyp`` (``-`` for nothing), for reading."""
    ref = [normalize(w) for w in reference.split()]
    hyp = [normalize(w) for w in hypothesis.split()]
    out = []
    for op in jiwer.process_words(" ".join(ref), " ".join(hyp)).alignments[0]:
        if op.type != "equal":
            a = " ".join(ref[op.ref_start_idx : op.ref_end_idx]) or "-"
            b = " ".join(hyp[op.hyp_start_idx : op.hyp_end_idx]) or "-"
            out.append(f"{a} -> {b}")
    return out


def epoch_map(received: list[tuple[float, dict[str, Any]]]) -> float:
    """Offset from audio time to the wall clock at which that audio arrived."""
    offsets = [r["start_epoch"] - r["start"] for _, r in received if r["start_epoch"]]
    return statistics.median(offsets)


def analyse(
    words: list[TimedWord], received: list[tuple[float, dict[str, Any]]], max_latency: float
) -> dict[str, Any]:
    offset = epoch_map(received)
    times = [WordTimes(w) for w in words]
    displayed: dict[tuple[str, int], bool] = {}
    finals = [(at, r) for at, r in received if r["type"] == "transcript" and r["is_final"]]
    final_items = [i for _, r in finals for i in text_items(r)]
    for at, response in received:
        kind = (
            "caption"
            if response["type"] == "captions"
            else ("final" if response["is_final"] else "display")
        )
        for item in text_items(response):
            mid = (item["start"] + item["end"]) / 2
            key = normalize(item["value"])
            if kind == "display":
                seen = (key, round(mid * 2))
                if seen not in displayed:
                    displayed[seen] = any(
                        normalize(f["value"]) == key
                        and abs((f["start"] + f["end"]) / 2 - mid) <= MATCH_SECONDS
                        for f in final_items
                    )
            for t in times:
                if normalize(t.word.text) == key and abs(t.word.mid - mid) <= MATCH_SECONDS:
                    latency = at - (offset + t.word.end)
                    if t.display is None:
                        t.display = latency
                    if kind != "display" and t.final is None:
                        t.final = latency
                    if kind == "caption" and t.caption is None:
                        t.caption = latency
                    break
    captions = [(at, r) for at, r in received if r["type"] == "captions"]
    caption_lag = [at - (offset + r["start"]) for at, r in captions]
    final_text = " ".join(r["alternatives"][0]["transcript"] for _, r in finals)
    caption_text = " ".join(r["alternatives"][0]["transcript"] for _, r in captions)
    return {
        "display_latency": percentiles([t.display for t in times if t.display is not None]),
        "final_latency": percentiles([t.final for t in times if t.final is not None]),
        "caption_latency": percentiles([t.caption for t in times if t.caption is not None]),
        "captions": len(captions),
        "captions_within_max_latency": round(
            sum(1 for lag in caption_lag if lag <= max_latency) / max(len(caption_lag), 1), 4
        ),
        "caption_block_lag": percentiles(caption_lag),
        "words_in_reference": len(times),
        "words_never_final": sum(1 for t in times if t.final is None),
        "flicker": round(sum(1 for ok in displayed.values() if not ok) / max(len(displayed), 1), 4),
        "final_text": final_text,
        "caption_text": caption_text,
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": memory,
            "python": platform.python_version(), "system": platform.platform()}  # fmt: skip


async def live_run(
    speech: Corpus, model: str, max_latency: float, data_dir: Path
) -> tuple[list[tuple[float, dict[str, Any]]], float, float]:
    server = ServerProcess(data_dir, model=model)
    server.start(timeout=300)
    try:
        flow = server.create_flow("bench", max_latency=max_latency)
        server.start_flow(flow)
        async with Viewer(server.ws_url, server.token("bench"), "bench-en-en") as viewer:
            assert server.proc is not None
            cpu_before, started = cpu_seconds(server.proc.pid), time.monotonic()
            rc, err = await until_done(publish(speech.wav, flow["rtmp_details"]["full_url"]))
            if rc != 0:
                raise RuntimeError(f"ffmpeg failed: {err}")
            await asyncio.sleep(2.0)
            cpu = (cpu_seconds(server.proc.pid) - cpu_before) / (time.monotonic() - started)
            server.stop_flow(flow)
            await asyncio.wait_for(viewer.ended.wait(), 60)
        received = [(r.at, r.message["response"]) for r in viewer.received]
        return received, cpu, time.monotonic() - started
    finally:
        server.stop()


TARGETS = {
    "display_latency.p50": 1.2, "display_latency.p95": 2.0,
    "final_latency.p50": 2.5, "final_latency.p95": 3.3,
}  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    rows = []
    for name in ("display_latency", "final_latency", "caption_latency", "caption_block_lag"):
        p = r[name]
        rows.append(f"| {name.replace('_', ' ')} (s) | {p['p50']} | {p['p95']} | {p['max']} |")
    targets = []
    for key, bound in TARGETS.items():
        metric, stat = key.split(".")
        value = r[metric][stat]
        ok = value is not None and value <= bound
        targets.append(
            f"| {metric.replace('_', ' ')} {stat} ≤ {bound} s | {value} | {'yes' if ok else 'NO'} |"
        )
    within = r["captions_within_max_latency"]
    targets.append(
        f"| caption blocks within max_latency = 100 % | {within * 100:.1f} % | "
        f"{'yes' if within == 1 else 'NO'} |"
    )
    wer_ok = r["wer_final"] <= r["wer_offline"] + 1.0
    targets.append(
        f"| streaming WER ≤ offline WER + 1 | {r['wer_final']} % vs {r['wer_offline']} % "
        f"| {'yes' if wer_ok else 'NO'} |"
    )
    m = result["machine"]
    return "\n".join(
        [
            f"# Latency benchmark: model `{result['model']}`, "
            f"max_latency {result['max_latency']} s",
            "",
            f"- Command: `{result['command']}`",
            f"- Date: {result['date']}",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
            f"Python {m['python']}",
            f"- Audio: {result['audio_seconds']} s of synthesized speech, "
            f"{r['words_in_reference']} words, published with `ffmpeg -re` over RTMP",
            "",
            "| latency after the word was spoken | p50 | p95 | max |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            "| accuracy and cost | value |",
            "| --- | --- |",
            f"| WER, final transcripts | {r['wer_final']} % |",
            f"| WER, caption blocks | {r['wer_captions']} % |",
            f"| WER, same model offline | {r['wer_offline']} % |",
            f"| partial words later changed (flicker) | {r['flicker'] * 100:.1f} % |",
            f"| words never finalized | {r['words_never_final']} |",
            f"| caption blocks | {r['captions']} |",
            f"| server CPU (1.0 = one core) | {r['cpu_cores_used']} |",
            "",
            "| target | measured | met |",
            "| --- | --- | --- |",
            *targets,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--max-latency", type=float, default=5.0)
    parser.add_argument("--sentences", type=int, help="use only the first N sentences")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", help="result file name (default: latency-MODEL)")
    args = parser.parse_args(argv)

    speech = corpus(args.sentences)
    print(f"bench: {speech.duration:.0f} s of speech; aligning the reference offline", flush=True)
    words, offline_text = offline_reference(speech, args.model)
    print("bench: publishing in real time", flush=True)
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"captioncast-bench-{os.getpid()}"
    received, cpu, _ = asyncio.run(live_run(speech, args.model, args.max_latency, data))
    results = analyse(words, received, args.max_latency)
    results["wer_final"] = wer(speech.text, results["final_text"])
    results["wer_captions"] = wer(speech.text, results.pop("caption_text"))
    results["final_errors"] = errors(speech.text, results.pop("final_text"))
    results["offline_errors"] = errors(speech.text, offline_text)
    results["wer_offline"] = wer(speech.text, offline_text)
    results["cpu_cores_used"] = round(cpu, 2)
    command = "bench/latency " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {
        "model": args.model, "max_latency": args.max_latency, "command": command.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "audio_seconds": round(speech.duration, 1), "machine": machine(), "results": results,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or f"latency-{args.model}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
