"""The streaming policy: when to decode, which words to commit, what to forget.

Whisper is not a streaming model, so partial results come from re-decoding a growing window
of audio. A word is committed once two successive hypotheses agree on it (LocalAgreement-2,
after whisper_streaming); a pause in speech ends the utterance and commits the rest. The
window is trimmed at committed sentence ends and never exceeds ``max_window``; committed text
from before the window is fed back as the prompt.

The policy does no I/O and runs no model: the driver asks it for a :class:`DecodeRequest`,
runs the engine, and hands the result back to :meth:`StreamingPolicy.accept`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from captioncast.core.audio import SAMPLE_RATE, AudioChunk, Samples
from captioncast.core.words import Word, ends_sentence
from captioncast.engines.asr.base import AsrResult

VAD_FRAME = 512  # samples per speech-probability frame (32 ms at 16 kHz)
ONSET_SLACK = 0.1  # a word may start this much before the VAD hears speech
ECHO_WORDS = 4  # a decode that starts with this many words of the prompt is an echo
ALIGN_SLACK = 1.0  # a committed word found again in a new decode moved at most this much
SPEECH_SLACK = 0.2  # a word this close to speech the VAD heard is taken as heard


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    min_step: float = 1.0  # seconds of new audio before the window is decoded again
    silence_to_finish: float = 0.6  # a pause this long ends the utterance
    trim_after: float = 8.0  # past this window length, trim at a committed sentence end
    max_window: float = 20.0  # never decode more than this
    pad: float = 0.3  # audio kept before the first speech frame
    speech_threshold: float = 0.5
    prompt_chars: int = 200
    # A word that started this long before the end of the decoded audio is committed even
    # without agreement, so the final text (and the captions made from it) never lag
    # without bound: a caption's deadline counts from its first word's start.
    commit_after: float = 3.0
    # Words ending this close to the end of the decoded audio are not committed on agreement:
    # a word cut off by the window is guessed the same way twice as easily as it is heard.
    edge: float = 0.4


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    audio: Samples
    window_start: float
    prompt: str
    final: bool

    @property
    def window_end(self) -> float:
        return self.window_start + len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class PolicyUpdate:
    """What one decode changed.

    ``committed``: words that became final, in order; ``tentative``: the current unconfirmed
    rest of the hypothesis; ``utterance_ended``: a pause (or the end of the source) closed
    the utterance; ``silent_until``: audio up to this time held no speech and is dropped.
    """

    committed: tuple[Word, ...] = ()
    tentative: tuple[Word, ...] = ()
    utterance_ended: bool = False
    silent_until: float | None = None


_NON_WORD = re.compile(r"[^\w']+")


def normalize(text: str) -> str:
    return _NON_WORD.sub("", text.lower())


class StreamingPolicy:
    """LocalAgreement-2 over a VAD-gated, trimmed, growing window."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._audio: Samples = np.zeros(0, dtype=np.float32)
        self._window_start = 0.0
        self._received_until = 0.0
        self._decoded_until = 0.0
        self._speech_seen = False
        self._last_speech = 0.0
        self._vad_frames = 0
        self._vad_base = 0.0  # audio time of VAD frame 0 (moves at a discontinuity)
        self._started = False
        self._in_speech = False
        self._speech_spans: list[list[float]] = []  # recent [onset, offset] of VAD speech
        self._committed: list[Word] = []
        self._hypothesis: list[Word] = []
        self._context_from = 0.0  # committed words before this time are not the prompt

    @property
    def window_start(self) -> float:
        return self._window_start

    @property
    def window_length(self) -> float:
        return self._received_until - self._window_start

    @property
    def _long_window(self) -> float:
        return (self.config.trim_after + self.config.max_window) / 2

    @property
    def committed_until(self) -> float:
        return self._committed[-1].end if self._committed else 0.0

    def insert_audio(self, chunk: AudioChunk, speech_probs: list[float]) -> PolicyUpdate:
        """Append a chunk and the speech probabilities of the VAD frames it completed.

        VAD frames are 512 samples counted from the flow's first sample (or from the last
        discontinuity), so a chunk may complete more or fewer frames than it holds; the
        probabilities continue the count. A chunk that does not follow the previous one (audio
        was dropped upstream) ends the utterance: what was heard is committed, the window and
        the VAD count restart at the chunk. Reset the VAD itself before feeding it such a chunk.

        While no speech has been heard, the window is kept to ``pad`` seconds and the rest
        is reported as silence. A window that outgrows ``max_window`` (the recognizer fell
        behind) has its older half committed and cut before anything decodes it.
        """
        update = PolicyUpdate()
        if not self._started or abs(chunk.audio_time - self._received_until) > 1e-3:
            update = self._restart_at(chunk.audio_time)
        self._audio = np.concatenate([self._audio, chunk.samples])
        self._received_until = chunk.end_time
        self._track_speech(speech_probs)
        if self._speech_seen:
            if self.window_length > self.config.max_window:
                forced = self._force_commit()
                return _merge(update, PolicyUpdate(tuple(forced), tuple(self._hypothesis)))
            return update
        keep_from = self._received_until - self.config.pad
        if keep_from > self._window_start:
            self._trim_to(keep_from)
            return _merge(update, PolicyUpdate(silent_until=keep_from))
        return update

    def _track_speech(self, speech_probs: list[float]) -> None:
        frame = VAD_FRAME / SAMPLE_RATE
        for p in speech_probs:
            start = self._vad_base + self._vad_frames * frame
            self._vad_frames += 1
            speech = p >= self.config.speech_threshold
            if speech and not self._in_speech:
                self._speech_spans.append([start, start])
                del self._speech_spans[:-64]
            self._in_speech = speech
            if speech:
                self._speech_spans[-1][1] = start + frame
                self._speech_seen = True
                self._last_speech = start + frame

    def _restart_at(self, t: float) -> PolicyUpdate:
        """Start the window afresh at ``t``; commit what was pending before the break."""
        pending = tuple(self._hypothesis)
        self._committed.extend(pending)
        had_speech = self._started and (self._speech_seen or bool(pending))
        self._hypothesis = []
        self._audio = np.zeros(0, dtype=np.float32)
        self._window_start = self._received_until = self._decoded_until = t
        self._vad_base, self._vad_frames = t, 0
        self._speech_seen = self._in_speech = False
        self._started = True
        return PolicyUpdate(pending, (), utterance_ended=had_speech)

    def next_request(self) -> DecodeRequest | None:
        """The decode to run now, or None when there is nothing worth decoding."""
        if not self._speech_seen:
            return None
        if self._received_until - self._last_speech >= self.config.silence_to_finish:
            return self._request(final=True)
        if self._received_until - self._decoded_until >= self.config.min_step:
            return self._request(final=False)
        return None

    def flush_request(self) -> DecodeRequest | None:
        """The last decode at the end of the source: commits whatever is pending."""
        return self._request(final=True) if self._speech_seen else None

    def end_context(self) -> None:
        """The source ended (a publisher left): what comes next does not continue what was
        said, so it is decoded without those words as its prompt. (A new publisher may well
        repeat them, and a prompt that matches the audio reads as an echo.)"""
        self._context_from = self._received_until

    def accept(self, request: DecodeRequest, result: AsrResult) -> PolicyUpdate:
        """Take the engine's hypothesis for ``request`` and commit what is settled."""
        self._decoded_until = request.window_end
        if _echoes_prompt(request.prompt, result):
            result = AsrResult(())
        hypothesis = self._fresh_words(result, request.window_start)
        if request.final:
            committed = hypothesis
            self._hypothesis = []
        else:
            settled = request.window_end - self.config.edge
            n = _agreement(self._hypothesis, hypothesis)
            while n and hypothesis[n - 1].end > settled:
                n -= 1  # two decodes that both end here agree on guesses, not on hearing
            old = request.window_end - self.config.commit_after
            while n < len(hypothesis) and hypothesis[n].start <= old:
                n += 1
            committed, self._hypothesis = hypothesis[:n], hypothesis[n:]
        self._committed.extend(committed)
        del self._committed[:-200]
        if request.final:
            return self._end_utterance(tuple(committed))
        self._trim_committed()
        # Leave room for the next step's audio so no decode ever exceeds max_window.
        if self.window_length > self.config.max_window - self.config.min_step:
            committed = committed + self._force_commit()
        return PolicyUpdate(tuple(committed), tuple(self._hypothesis))

    def _request(self, final: bool) -> DecodeRequest:
        return DecodeRequest(self._audio.copy(), self._window_start, self._prompt(), final)

    def _prompt(self) -> str:
        before = [
            w.text
            for w in self._committed
            if self._context_from <= w.start and w.end <= self._window_start
        ]
        return " ".join(before)[-self.config.prompt_chars :].lstrip()

    def _fresh_words(self, result: AsrResult, offset: float) -> list[Word]:
        """Hypothesis words that come after what is already committed.

        The window still holds audio of committed words, so the hypothesis repeats them.
        They are recognized by text first (timestamps move between decodes, and a word lost
        to a time cut-off would be lost for good), by time where the text changed.
        """
        words = [
            self._clamp_to_onset(w.shifted(offset))
            for w in result.words
            if self._in_speech_span(w.shifted(offset))
        ]
        in_window = [w for w in self._committed if w.end > offset]
        aligned = _after_aligned(in_window, words)
        if aligned is None:
            floor = self.committed_until - 0.1
            aligned = [w for w in words if w.start >= floor]
        return _drop_repeated_prefix(self._committed, aligned)

    def _in_speech_span(self, word: Word) -> bool:
        """Whether the VAD heard speech where ``word`` lies. Whisper writes words for silence
        (often the prompt again, or "Thank you."); the VAD does not hear them."""
        spans = self._speech_spans
        if not spans or word.end < spans[0][0]:
            return True  # older than what the VAD remembers: no evidence against it
        return any(on - SPEECH_SLACK < word.end and word.start < off + SPEECH_SLACK
                   for on, off in spans)  # fmt: skip

    def _clamp_to_onset(self, word: Word) -> Word:
        """Whisper stretches the first word after a pause back into the silence; the VAD
        knows where the speech began."""
        for onset, offset in self._speech_spans:
            if onset <= word.start < offset + ONSET_SLACK:
                return word  # the word starts in speech
            if onset > word.start:
                if word.start < onset - ONSET_SLACK < word.end:
                    return Word(word.text, onset - ONSET_SLACK, word.end, word.probability)
                return word
        return word

    def _end_utterance(self, committed: tuple[Word, ...]) -> PolicyUpdate:
        silent_from = max(self._last_speech, self.committed_until)
        keep_from = max(silent_from, self._received_until - self.config.pad)
        self._trim_to(keep_from)
        self._speech_seen = False
        return PolicyUpdate(committed, (), utterance_ended=True)

    def _trim_committed(self) -> None:
        if self.window_length <= self.config.trim_after:
            return
        in_window = [w for w in self._committed if w.end > self._window_start]
        ends = [w.end for w in in_window if ends_sentence(w)]
        if ends:
            self._trim_to(ends[-1])
        elif in_window and self.window_length > self._long_window:
            # No sentence end for a long while: trim at the last committed word instead.
            self._trim_to(in_window[-1].end)

    def _force_commit(self) -> list[Word]:
        """The window outgrew ``max_window``: commit the older half of the hypothesis."""
        cut = self._received_until - self.config.max_window / 2
        forced = [w for w in self._hypothesis if w.end <= cut]
        self._hypothesis = self._hypothesis[len(forced) :]
        self._committed.extend(forced)
        self._trim_to(max(cut, self.committed_until))
        return forced

    def _trim_to(self, t: float) -> None:
        drop = int(round((t - self._window_start) * SAMPLE_RATE))
        if drop <= 0:
            return
        drop = min(drop, len(self._audio))
        self._audio = self._audio[drop:]
        self._window_start += drop / SAMPLE_RATE
        self._hypothesis = [w for w in self._hypothesis if w.end > self._window_start]


def _agreement(previous: list[Word], current: list[Word]) -> int:
    """Length of the common prefix of two hypotheses, compared without case or punctuation."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if normalize(a.text) != normalize(b.text):
            break
        n += 1
    return n


def _echoes_prompt(prompt: str, result: AsrResult) -> bool:
    """Whether the decode starts by reciting the prompt: what Whisper writes when it hears
    nothing it can transcribe (a hum, music), placing the words anywhere it likes."""
    head = [normalize(w.text) for w in result.words[:ECHO_WORDS]]
    said = [normalize(w) for w in prompt.split()[: ECHO_WORDS + 1]]
    # The prompt is cut to a length, so its first word may be a fragment: skip it too.
    return len(head) == ECHO_WORDS and head in (said[:ECHO_WORDS], said[1 : ECHO_WORDS + 1])


def _merge(first: PolicyUpdate, then: PolicyUpdate) -> PolicyUpdate:
    """One update saying what two consecutive ones said."""
    if first == PolicyUpdate():
        return then
    return PolicyUpdate(
        first.committed + then.committed,
        then.tentative,
        first.utterance_ended or then.utterance_ended,
        then.silent_until if then.silent_until is not None else first.silent_until,
    )


def _after_aligned(committed: list[Word], hypothesis: list[Word]) -> list[Word] | None:
    """The words of ``hypothesis`` after the stretch that repeats ``committed`` (compared by
    text, and where it was said: "for" committed at 2 s is not the "for" heard at 5 s), or
    None when the hypothesis does not repeat the last committed word."""
    if not committed:
        return hypothesis
    a = [normalize(w.text) for w in committed]
    b = [normalize(w.text) for w in hypothesis]
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    last = committed[-1]
    for block in reversed(blocks):
        if block.size and block.a + block.size == len(a):
            same = hypothesis[block.b + block.size - 1]
            if abs((same.start + same.end) / 2 - (last.start + last.end) / 2) <= ALIGN_SLACK:
                return hypothesis[block.b + block.size :]
    return None


def _drop_repeated_prefix(committed: list[Word], fresh: list[Word], max_n: int = 5) -> list[Word]:
    """Drop words at the head of ``fresh`` that repeat the tail of ``committed``.

    Word timestamps jitter between decodes, so the time floor alone lets the last committed
    word or two reappear at the start of the next hypothesis. A repeat counts only when each
    of its words starts before the committed word it repeats has ended: a speaker who says
    "very very" keeps both.
    """
    if not committed or not fresh:
        return fresh
    tail = committed[-max_n:]
    for n in range(min(len(tail), len(fresh)), 0, -1):
        pairs = list(zip(tail[-n:], fresh[:n], strict=True))
        if all(normalize(c.text) == normalize(f.text) and f.start < c.end for c, f in pairs):
            return fresh[n:]
    return fresh
