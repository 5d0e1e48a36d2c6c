"""The benchmark's speech: a few minutes of news read with a known text, synthesized offline.

Sentences are separated by pauses of varied length; one stretch is read without any pause, the
way some speakers never stop, to exercise the max-latency cut. Numbers are written as Whisper
writes them, so the reference compares fairly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from captioncast.samples import read_wav, synthesize, write_wav

CACHE = Path(__file__).resolve().parent / ".cache"

SENTENCES = (
    "Good evening, and welcome to the evening news.",
    "Our top story tonight comes from the coast, where heavy rain has closed several roads.",
    "Emergency crews worked through the afternoon to clear fallen trees from the main highway.",
    "Officials expect the roads to reopen by tomorrow morning, if the weather improves.",
    "Residents are asked to stay at home and to avoid travelling after dark.",
    "In the capital, the government presented its new budget to parliament today.",
    "The plan includes more money for schools, hospitals and public transport.",
    "The opposition said the budget does too little for families with young children.",
    "A vote is expected at the end of next week.",
    "Turning to business, the price of coffee has risen for the third month in a row.",
    "Farmers blame a dry summer and rising costs for fuel and fertilizer.",
    "Some cafes have already raised their prices, and others say they will follow soon.",
    "Economists expect prices to settle once the new harvest reaches the markets.",
    "In science news, researchers have found a new species of frog in the northern forests.",
    "The small green frog lives high in the trees and sings only after it rains.",
    "The team spent three years listening for its call before they finally saw one.",
    "They hope the discovery will help protect the forest from further logging.",
    "Now to sports, where the national team won its match last night by two goals.",
    "The first goal came early in the game, after a quick run down the left side.",
    "The second came in the final minutes, from a free kick just outside the box.",
    "The coach praised his players for staying calm under pressure.",
    "The team plays its next match on Saturday afternoon.",
    "Here is a message from our sponsor, read without a single pause, as some speakers do: "
    "the city library is open every day of the week and offers free courses in languages and "
    "music and cooking and computer skills for people of all ages and backgrounds and anyone "
    "who wants to learn something new is welcome to join at any time of the year.",
    "In culture, a new exhibition of modern paintings opened at the city museum.",
    "More than two hundred works are on display, many of them for the first time.",
    "The exhibition runs until the end of the summer.",
    "And finally, the weather.",
    "Tomorrow will be cloudy in the morning, with sunny spells in the afternoon.",
    "Temperatures will reach about twenty degrees in the south, and a little less in the north.",
    "The weekend looks dry and warm almost everywhere.",
    "That is all from us tonight.",
    "Thank you for watching, and have a pleasant evening.",
)
# Silence after each sentence: mostly short breaths, some longer pauses.
PAUSES = (
    0.9, 0.4, 0.5, 0.7, 1.2, 0.4, 0.6, 0.5, 1.5, 0.4, 0.6, 0.5, 1.2, 0.4, 0.5, 0.6,
    1.3, 0.4, 0.5, 0.6, 0.5, 1.4, 1.0, 0.4, 0.5, 1.1, 0.6, 0.5, 0.5, 1.2, 0.6,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Corpus:
    wav: Path
    text: str
    duration: float
    sentence_spans: tuple[tuple[float, float], ...]


def corpus(sentences: int | None = None) -> Corpus:
    """The benchmark recording (the first ``sentences`` only, when given), cached."""
    chosen = SENTENCES[:sentences] if sentences else SENTENCES
    pauses = PAUSES[: len(chosen) - 1]
    key = hashlib.sha256(json.dumps([chosen, pauses]).encode()).hexdigest()[:12]
    wav, meta = CACHE / f"corpus-{key}.wav", CACHE / f"corpus-{key}.json"
    if not (wav.exists() and meta.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        spoken = synthesize(chosen, pauses)
        write_wav(wav, spoken.audio)
        meta.write_text(json.dumps({"spans": spoken.spans}))
    spans = tuple(tuple(s) for s in json.loads(meta.read_text())["spans"])
    duration = len(read_wav(wav)) / 16000
    return Corpus(wav, " ".join(chosen), duration, spans)  # type: ignore[arg-type]
