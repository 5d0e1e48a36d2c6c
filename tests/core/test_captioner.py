import itertools

from captioncast.core.captioner import Captioner
from captioncast.core.messages import ResponseContext
from captioncast.core.policy import PolicyUpdate
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word


def make() -> Captioner:
    counter = itertools.count()
    ctx = ResponseContext(
        "en", "transcription", "spk", lambda t: TimePoint(t, t + 100, t + 1e9, None)
    )
    return Captioner(ctx, max_latency=5.0, new_id=lambda: f"id{next(counter)}")


def test_partials_share_the_utterance_id_until_the_final_and_tile_the_timeline() -> None:
    c = make()
    hello, world = Word("Hello", 0.5, 0.9), Word("world.", 1.0, 1.4)
    out = c.update(PolicyUpdate(tentative=(hello,)), now=1.0)
    out += c.update(PolicyUpdate(tentative=(hello, world)), now=2.0)
    out += c.update(PolicyUpdate(committed=(hello, world), utterance_ended=True), now=3.0)
    transcripts = [r for r in out if r["type"] == "transcript"]
    assert [r["is_final"] for r in transcripts] == [False, False, True]
    assert len({r["id"] for r in transcripts}) == 1
    assert transcripts[-1]["alternatives"][0]["transcript"] == "Hello world."
    items = transcripts[-1]["alternatives"][0]["items"]
    assert [(i["kind"], i["value"]) for i in items] == [
        ("text", "Hello"),
        ("text", "world"),
        ("punct", "."),
    ]
    assert transcripts[-1]["start"] == 0.0 and transcripts[-1]["end"] == 1.4
    assert transcripts[-1]["start_pts"] == 100.0
    captions = [r for r in out if r["type"] == "captions"]
    assert len(captions) == 1 and captions[0]["alternatives"][0]["lines"] == ["Hello world."]
    assert captions[0]["start"] == 0.5 and captions[0]["is_final"]


def test_silence_gets_empty_finals_and_no_captions() -> None:
    c = make()
    out = []
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):
        out += c.update(PolicyUpdate(silent_until=t), now=t)
    assert [r["alternatives"][0]["items"] for r in out] == [[], []]
    assert [(r["start"], r["end"]) for r in out] == [(0.0, 2.0), (2.0, 4.0)]
    assert all(r["type"] == "transcript" and r["is_final"] for r in out)


def test_end_of_stream_flushes_pending_caption_and_marks_the_end() -> None:
    c = make()
    w = Word("unfinished", 0.2, 0.7)
    out = c.update(PolicyUpdate(committed=(w,)), now=1.0)
    assert [r["type"] for r in out] == ["transcript"]
    out = c.end_of_stream(now=2.0)
    assert [r["type"] for r in out] == ["captions", "transcript"]
    assert out[-1]["is_end_of_stream"] and out[-1]["end"] == 2.0


def test_a_partial_taken_back_is_closed_by_an_empty_final() -> None:
    c = make()
    out = c.update(PolicyUpdate(tentative=(Word("um", 0.4, 0.6),)), now=1.0)
    out += c.update(PolicyUpdate(utterance_ended=True), now=2.0)
    assert [(r["is_final"], r["alternatives"][0]["transcript"]) for r in out] == [
        (False, "um"),
        (True, ""),
    ]
    assert out[0]["id"] == out[1]["id"]
