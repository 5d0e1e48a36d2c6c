# ruff: noqa: I001
"""How many flows one machine captions in real time, per model.

Starts one ``captioncast serve`` per model and publishes the same recording into 1, 2, 3 …
flows at once (every flow shares the one loaded model), each with its own viewer. A load is
real time when every flow's caption blocks arrive within max_latency and the final text stays
as accurate as with one flow. Reports, per model and flow count, the final and caption
latency, WER and CPU use.

    bench/capacity [--models base tiny.en] [--flows 1 2 3 4] [--sentences 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# latency puts tests/e2e (the server harness) and bench on the import path.
from latency import ROOT, analyse, cpu_seconds, machine, wer

from corpus import Corpus, corpus
from harness import ServerProcess, Viewer, publish, until_done
from reference import offline_reference


async def load_run(
    server: ServerProcess, speech: Corpus, flows: int, max_latency: float, tag: str
) -> tuple[list[list[tuple[float, dict[str, Any]]]], float]:
    """Publish ``speech`` into ``flows`` flows at once; every viewer's messages and CPU use."""
    created = []
    for i in range(flows):
        flow = server.create_flow(f"{tag}_{i}", max_latency=max_latency)
        server.start_flow(flow)
        created.append(flow)
    viewers = [
        Viewer(server.ws_url, server.token(f["name"]), f"{f['name']}-en-en") for f in created
    ]
    for viewer in viewers:
        await viewer.__aenter__()
    assert server.proc is not None
    cpu_before, started = cpu_seconds(server.proc.pid), time.monotonic()
    results = await asyncio.gather(
        *(until_done(publish(speech.wav, f["rtmp_details"]["full_url"])) for f in created)
    )
    for rc, err in results:
        if rc != 0:
            raise RuntimeError(f"ffmpeg failed: {err}")
    await asyncio.sleep(2.0)
    cpu = (cpu_seconds(server.proc.pid) - cpu_before) / (time.monotonic() - started)
    for flow in created:
        server.stop_flow(flow)
    for viewer in viewers:
        await asyncio.wait_for(viewer.ended.wait(), 120)
        await viewer.__aexit__(None, None, None)
    received = [[(r.at, r.message["response"]) for r in v.received] for v in viewers]
    return received, cpu


def summarize(
    speech: Corpus, words: list[Any], runs: list[list[tuple[float, dict[str, Any]]]],
    max_latency: float, cpu: float,
) -> dict[str, Any]:  # fmt: skip
    per_flow = []
    for received in runs:
        r = analyse(words, received, max_latency)
        per_flow.append({
            "final_p95": r["final_latency"]["p95"],
            "caption_p95": r["caption_latency"]["p95"],
            "within_max_latency": r["captions_within_max_latency"],
            "wer_final": wer(speech.text, r["final_text"]),
        })  # fmt: skip
    return {
        "final_latency_p95_worst": max(f["final_p95"] or 99 for f in per_flow),
        "caption_latency_p95_worst": max(f["caption_p95"] or 99 for f in per_flow),
        "captions_within_max_latency": min(f["within_max_latency"] for f in per_flow),
        "wer_final_worst": max(f["wer_final"] for f in per_flow),
        "cpu_cores_used": round(cpu, 2),
        "flows": per_flow,
    }


def rewrite(json_path: Path) -> None:
    """Write the markdown table again from a results file."""
    json_path.with_suffix(".md").write_text(markdown(json.loads(json_path.read_text())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["base", "tiny.en"])
    parser.add_argument("--flows", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--max-latency", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    speech = corpus(args.sentences)
    report: dict[str, Any] = {
        "command": "bench/capacity " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(), "audio_seconds": round(speech.duration, 1),
        "max_latency": args.max_latency, "models": {},
    }  # fmt: skip
    for model in args.models:
        words, offline_text = offline_reference(speech, model)
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        data = tmp / f"captioncast-capacity-{os.getpid()}-{model}"
        server = ServerProcess(data, model=model)
        server.start(timeout=300)
        loads: dict[str, Any] = {"wer_offline": wer(speech.text, offline_text)}
        try:
            for n in args.flows:
                print(f"capacity: {model}, {n} flow(s) at once", flush=True)
                runs, cpu = asyncio.run(load_run(server, speech, n, args.max_latency, f"n{n}"))
                loads[str(n)] = summarize(speech, words, runs, args.max_latency, cpu)
                print(json.dumps({k: v for k, v in loads[str(n)].items() if k != "flows"}))
        finally:
            server.stop()
        report["models"][model] = loads
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "capacity.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "capacity.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Capacity: concurrent flows per model",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB",
        f"- Each flow: {report['audio_seconds']} s of speech published with `ffmpeg -re`; "
        f"max_latency {report['max_latency']} s; one model instance shared by all flows",
        "",
        "| model | flows | final p95 (s, worst flow) | caption p95 (s) | captions on time "
        "| WER final (worst) | WER offline | CPU (cores) | real time¹ |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, loads in report["models"].items():
        for n, r in loads.items():
            if n == "wer_offline":
                continue
            on_time = r["captions_within_max_latency"]
            alone = loads.get("1", r)["wer_final_worst"]  # the same model serving one flow
            real_time = on_time == 1 and r["wer_final_worst"] <= alone + 1.0
            lines.append(
                f"| {model} | {n} | {r['final_latency_p95_worst']} | "
                f"{r['caption_latency_p95_worst']} | {on_time * 100:.0f} % | "
                f"{r['wer_final_worst']} % | {loads['wer_offline']} % | {r['cpu_cores_used']} "
                f"| {'yes' if real_time else 'no'} |"
            )
    lines += [
        "",
        "¹ every caption block within max_latency, and the final text no more than one point "
        "of WER worse than the same model serving one flow.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
