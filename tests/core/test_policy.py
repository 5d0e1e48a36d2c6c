"""LocalAgreement-2 driven by a scripted engine: no model, no I/O."""

import numpy as np

from captioncast.core.audio import SAMPLE_RATE, AudioChunk
from captioncast.core.policy import (
    VAD_FRAME,
    DecodeRequest,
    PolicyConfig,
    PolicyUpdate,
    StreamingPolicy,
)
from captioncast.core.words import Word
from captioncast.engines.asr.base import AsrResult, AsrSegment


def script(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


class Engine:
    """Knows the words spoken; hears those that ended inside the window, and guesses a
    garbled version of a word cut off by the window's end."""

    def __init__(self, words: list[Word], garble: bool = True) -> None:
        self.words = words
        self.garble = garble
        self.calls: list[DecodeRequest] = []

    def __call__(self, req: DecodeRequest) -> AsrResult:
        self.calls.append(req)
        heard = []
        for w in self.words:
            if w.start >= req.window_start - 0.05 and w.end <= req.window_end:
                heard.append(w.shifted(-req.window_start))
            elif self.garble and w.start < req.window_end < w.end:
                heard.append(Word(w.text[:2] + "zz", w.start - req.window_start, w.end))
        seg = AsrSegment(0.0, req.window_end - req.window_start, "", tuple(heard))
        return AsrResult((seg,))


def run(policy: StreamingPolicy, engine: Engine, duration: float, frames: int = 16):
    updates: list[PolicyUpdate] = []
    t = 0.0
    n = frames * VAD_FRAME
    chunk = n / SAMPLE_RATE
    while t < duration:
        probs = []
        for i in range(n // VAD_FRAME):
            f0 = t + i * VAD_FRAME / SAMPLE_RATE
            f1 = f0 + VAD_FRAME / SAMPLE_RATE
            probs.append(0.9 if any(w.start < f1 and w.end > f0 for w in engine.words) else 0.05)
        updates.append(
            policy.insert_audio(AudioChunk(np.zeros(n, np.float32), t, t, 1000 + t), probs)
        )
        t += chunk
        req = policy.next_request()
        if req is not None:
            updates.append(policy.accept(req, engine(req)))
    req = policy.flush_request()
    if req is not None:
        updates.append(policy.accept(req, engine(req)))
    return updates


def committed(updates: list[PolicyUpdate]) -> list[str]:
    return [w.text for u in updates for w in u.committed]


def test_commits_every_word_once_and_never_a_garbled_guess() -> None:
    text = "the quick brown fox jumps over the lazy dog and keeps running far away"
    engine = Engine(script(text, 1.0))
    updates = run(StreamingPolicy(), engine, 10.0)
    assert committed(updates) == text.split()
    assert not any(u.tentative and u.tentative[-1].text.endswith("zz") for u in updates[:1])


def test_partials_show_words_before_they_are_committed() -> None:
    engine = Engine(script("alpha beta gamma delta epsilon zeta eta theta", 0.5), garble=False)
    updates = run(StreamingPolicy(), engine, 8.0)
    first_tentative = next(i for i, u in enumerate(updates) if u.tentative)
    first_commit = next(i for i, u in enumerate(updates) if u.committed)
    assert first_tentative < first_commit


def test_silence_is_never_decoded_and_reported_as_silent() -> None:
    engine = Engine([])
    updates = run(StreamingPolicy(), engine, 5.0)
    assert engine.calls == []
    assert committed(updates) == []
    assert max(u.silent_until or 0 for u in updates) >= 4.0


def test_pause_ends_the_utterance_and_commits_the_rest() -> None:
    words = script("hello there everyone", 1.0) + script("second sentence here", 6.0)
    engine = Engine(words)
    updates = run(StreamingPolicy(), engine, 10.0)
    ended = [u for u in updates if u.utterance_ended]
    assert ended and [w.text for w in ended[0].committed][-1] == "everyone"
    assert committed(updates) == "hello there everyone second sentence here".split()
    # The first utterance was closed well before the second started.
    first_end = next(i for i, u in enumerate(updates) if u.utterance_ended)
    assert all(w.start < 6.0 for u in updates[: first_end + 1] for w in u.committed)


def test_window_is_trimmed_at_sentence_ends_and_bounded() -> None:
    sentences = " ".join(f"sentence number {i} ends here." for i in range(12))
    engine = Engine(script(sentences, 0.5, step=0.35))  # 60 words, ~21 s, no pause
    policy = StreamingPolicy(PolicyConfig(trim_after=4.0, max_window=10.0))
    updates = run(policy, engine, 24.0)
    assert committed(updates) == sentences.split()
    assert max(len(c.audio) for c in engine.calls) / SAMPLE_RATE <= 10.5
    assert any(c.window_start > 5.0 for c in engine.calls)
    assert any(c.prompt.endswith("ends here.") for c in engine.calls)


def test_window_without_sentence_ends_is_still_bounded() -> None:
    # A speaker who never ends a sentence: no sentence end to trim at.
    engine = Engine(script(" ".join(f"w{i}" for i in range(80)), 0.2, step=0.3), garble=False)
    policy = StreamingPolicy(PolicyConfig(max_window=8.0))
    updates = run(policy, engine, 26.0)
    assert max(len(c.audio) for c in engine.calls) / SAMPLE_RATE <= 8.6
    assert len(committed(updates)) >= 70


def test_repeated_words_at_the_window_edge_are_not_committed_twice() -> None:
    policy = StreamingPolicy()
    probs = [0.9] * (SAMPLE_RATE // VAD_FRAME)
    chunk = AudioChunk(np.zeros(SAMPLE_RATE, np.float32), 0.0, 0.0, 0.0)
    policy.insert_audio(chunk, probs)
    req = policy.next_request()
    assert req is not None
    hyp = (Word("good", 0.1, 0.4), Word("morning", 0.5, 0.9))
    policy.accept(req, AsrResult((AsrSegment(0, 1, "", hyp),)))
    policy.insert_audio(AudioChunk(np.zeros(SAMPLE_RATE, np.float32), 1.0, 1.0, 1.0), probs)
    req = policy.next_request()
    assert req is not None
    u = policy.accept(req, AsrResult((AsrSegment(0, 2, "", hyp + (Word("all", 1.2, 1.5),)),)))
    assert [w.text for w in u.committed] == ["good", "morning"]
    policy.insert_audio(AudioChunk(np.zeros(SAMPLE_RATE, np.float32), 2.0, 2.0, 2.0), probs)
    req = policy.next_request()
    assert req is not None
    # Timestamps jitter: "morning" reappears slightly later than committed.
    again = (Word("morning", 0.85, 1.1), Word("all", 1.2, 1.5), Word("of", 1.6, 1.8))
    u = policy.accept(req, AsrResult((AsrSegment(0, 3, "", again),)))
    assert [w.text for w in u.committed] == ["all"]


def feed(policy: StreamingPolicy, start: float, seconds: float, speech: bool) -> None:
    n = int(seconds * SAMPLE_RATE)
    frames = n // VAD_FRAME
    chunk = AudioChunk(np.zeros(frames * VAD_FRAME, np.float32), start, start, start)
    policy.insert_audio(chunk, [0.9 if speech else 0.0] * frames)


def hypothesis(*words: Word) -> AsrResult:
    return AsrResult((AsrSegment(0, 10, "", tuple(words)),))


def test_first_word_after_a_pause_starts_where_the_vad_heard_speech() -> None:
    policy = StreamingPolicy()
    feed(policy, 0.0, 2.048, speech=False)
    feed(policy, 2.048, 1.024, speech=True)
    req = policy.flush_request()
    assert req is not None
    # Whisper stretches the first word back into the silence.
    u = policy.accept(
        req, hypothesis(Word("Hello", 1.2 - req.window_start, 2.5 - req.window_start))
    )
    assert [w.text for w in u.committed] == ["Hello"]
    assert abs(u.committed[0].start - (2.048 - 0.1)) < 0.04


def test_words_are_matched_by_text_when_their_timestamps_move() -> None:
    policy = StreamingPolicy(PolicyConfig(trim_after=60))
    feed(policy, 0.0, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    policy.accept(req, hypothesis(Word("one", 0.1, 0.4), Word("two", 0.5, 0.9)))
    feed(policy, 1.024, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    u = policy.accept(
        req, hypothesis(Word("one", 0.1, 0.4), Word("two", 0.5, 0.9), Word("three", 1.0, 1.4))
    )
    assert [w.text for w in u.committed] == ["one", "two"]
    feed(policy, 2.048, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    # This decode places "three" earlier, overlapping the committed "two": kept all the same.
    shifted = (
        Word("one", 0.1, 0.3),
        Word("two", 0.35, 0.6),
        Word("three", 0.6, 1.0),
        Word("four", 1.1, 1.5),
    )
    u = policy.accept(req, hypothesis(*shifted))
    assert [w.text for w in u.committed] == ["three"]
    assert [w.text for w in u.tentative] == ["four"]


def test_a_backlog_longer_than_the_window_is_cut_before_it_is_decoded() -> None:
    policy = StreamingPolicy(PolicyConfig(max_window=10.0))
    feed(policy, 0.0, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    policy.accept(req, hypothesis(Word("early", 0.1, 0.5)))
    # The recognizer fell behind: 30 s of speech arrive in one step.
    updates = [
        policy.insert_audio(
            AudioChunk(np.zeros(32 * VAD_FRAME, np.float32), 1.024 * (i + 1), 0, 0), [0.9] * 32
        )
        for i in range(30)
    ]
    req = policy.next_request()
    assert req is not None and req.window_end - req.window_start <= 10.0
    # What was heard before the cut is committed, not lost.
    assert committed(updates) == ["early"]


def test_dropped_audio_ends_the_utterance_and_restarts_the_clocks() -> None:
    policy = StreamingPolicy()
    feed(policy, 0.0, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    policy.accept(req, hypothesis(Word("before", 0.1, 0.5), Word("the", 0.6, 0.8)))
    # 20 s of audio were dropped upstream; the next chunk starts at 21.024.
    gap = AudioChunk(np.zeros(16 * VAD_FRAME, np.float32), 21.024, 0, 0)
    update = policy.insert_audio(gap, [0.0] * 16)
    assert [w.text for w in update.committed] == ["before", "the"]
    assert update.utterance_ended
    assert policy.window_start >= 21.0
    feed(policy, 21.536, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None and req.window_start >= 21.0
    # The VAD's frames are placed on the new clock: speech at 21.5 s, not at 1.5 s.
    assert policy._speech_spans[-1][0] >= 21.5


def test_a_committed_word_is_found_again_where_it_was_said_not_later() -> None:
    policy = StreamingPolicy(PolicyConfig(trim_after=60))
    feed(policy, 0.0, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    first = (Word("all", 0.1, 0.3), Word("for", 0.4, 0.6), Word("us", 0.7, 0.9))
    policy.accept(req, hypothesis(*first))
    feed(policy, 1.024, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    u = policy.accept(req, hypothesis(*first[:2], Word("tonight", 1.0, 1.4)))
    assert [w.text for w in u.committed] == ["all", "for"]
    feed(policy, 2.048, 1.024, speech=True)
    req = policy.next_request()
    assert req is not None
    # The new decode hears "from" where "for" was, and a later "for": the words between are
    # new, not already committed.
    later = (Word("all", 0.1, 0.3), Word("from", 0.4, 0.6), Word("us", 0.7, 0.9),
             Word("tonight", 1.0, 1.4), Word("thank", 1.6, 1.8), Word("you", 1.9, 2.0),
             Word("for", 2.1, 2.3), Word("watching", 2.4, 2.8))  # fmt: skip
    policy.accept(req, hypothesis(*later))
    assert [w.text for w in policy._hypothesis][:3] == ["us", "tonight", "thank"]


def test_a_decode_that_recites_the_prompt_is_ignored() -> None:
    policy = StreamingPolicy(PolicyConfig(trim_after=1.0))
    feed(policy, 0.0, 2.048, speech=True)
    req = policy.flush_request()
    assert req is not None
    said = ("The", "city", "library", "is", "open.")
    policy.accept(
        req, hypothesis(*(Word(t, 0.2 + i * 0.3, 0.4 + i * 0.3) for i, t in enumerate(said)))
    )
    feed(policy, 2.048, 1.024, speech=True)
    req = policy.flush_request()
    assert req is not None and req.prompt.startswith("The city library")
    echo = hypothesis(*(Word(t, 0.1 + i * 0.2, 0.25 + i * 0.2) for i, t in enumerate(said)))
    assert policy.accept(req, echo).committed == ()


def test_after_the_source_ends_the_old_words_are_no_longer_the_prompt() -> None:
    # A publisher that reconnects and repeats what was said: without its prompt, the
    # repeated words are heard, not taken for an echo of the prompt.
    policy = StreamingPolicy(PolicyConfig(trim_after=1.0))
    feed(policy, 0.0, 2.048, speech=True)
    req = policy.flush_request()
    assert req is not None
    said = ("The", "city", "library", "is", "open.")
    policy.accept(
        req, hypothesis(*(Word(t, 0.2 + i * 0.3, 0.4 + i * 0.3) for i, t in enumerate(said)))
    )
    policy.end_context()
    feed(policy, 2.048, 1.024, speech=True)
    req = policy.flush_request()
    assert req is not None and req.prompt == ""
    again = hypothesis(*(Word(t, 0.1 + i * 0.2, 0.25 + i * 0.2) for i, t in enumerate(said)))
    assert [w.text for w in policy.accept(req, again).committed] == list(said)
