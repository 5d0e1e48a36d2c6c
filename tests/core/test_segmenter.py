from captioncast.core.layout import CaptionLayout
from captioncast.core.segmenter import CaptionBlock, CaptionSegmenter
from captioncast.core.words import Word


def timed(text: str, start: float = 0.0, step: float = 0.35) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


def check_blocks(blocks: list[CaptionBlock], layout: CaptionLayout) -> None:
    for b in blocks:
        assert 1 <= len(b.lines) <= layout.max_lines
        assert all(len(line) <= layout.max_chars_per_line for line in b.lines)
        assert b.end > b.start
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert b.start >= a.end


def test_sentence_end_closes_a_block() -> None:
    seg = CaptionSegmenter()
    ws = timed("Good evening. Here is the news")
    blocks = seg.push(ws, now=ws[-1].end)
    assert [b.text for b in blocks] == ["Good evening."]
    assert [w.text for w in seg.pending] == ["Here", "is", "the", "news"]


def test_overflow_cuts_at_phrase_break_and_respects_layout() -> None:
    layout = CaptionLayout(37, 2)
    seg = CaptionSegmenter(layout, max_latency=60)
    text = (
        "The committee met on Tuesday morning, and after a long debate about the budget "
        "the members agreed to postpone the vote until the next session in spring"
    )
    ws = timed(text)
    blocks = seg.push(ws, now=ws[-1].end) + seg.flush()
    check_blocks(blocks, layout)
    assert " ".join(b.text for b in blocks) == text
    assert blocks[0].lines[-1].endswith("morning,")


def test_pause_seen_in_next_word_closes_block() -> None:
    seg = CaptionSegmenter(max_latency=60)
    ws = timed("so we went home")
    assert seg.push(ws, now=ws[-1].end + 0.1, next_start=ws[-1].end + 0.2) == []
    blocks = seg.push([], now=ws[-1].end + 2, next_start=ws[-1].end + 1.0)
    assert [b.text for b in blocks] == ["so we went home"]


def test_pause_between_final_words_closes_block() -> None:
    seg = CaptionSegmenter(max_latency=60)
    blocks = seg.push(timed("first part") + timed("second part", start=5.0), now=6.0)
    assert [b.text for b in blocks] == ["first part"]


def test_max_latency_forces_block_out_before_deadline() -> None:
    seg = CaptionSegmenter(max_latency=5.0, margin=0.5)
    ws = timed("and then the speaker kept going")
    assert seg.push(ws, now=3.0) == []
    assert seg.tick(4.4) == []
    blocks = seg.tick(4.6)
    assert len(blocks) == 1 and blocks[0].start == 0.0


def test_blocks_never_overlap_even_when_word_times_do() -> None:
    seg = CaptionSegmenter(max_latency=60)
    a = [Word("One.", 0.0, 1.0)]
    b = [Word("Two.", 0.8, 1.5)]
    blocks = seg.push(a + b, now=2.0)
    check_blocks(blocks, seg.layout)
    assert blocks[1].start == blocks[0].end


def test_blocks_stay_up_long_enough_to_read() -> None:
    seg = CaptionSegmenter(max_latency=60)
    (yes,) = seg.push([Word("Yes.", 0.0, 0.3)], now=1.0)
    assert yes.end == 1.0  # minimum display time
    fast = timed("one two three four five six.", start=5.0, step=0.15)
    (block,) = seg.push(fast, now=7.0)
    assert block.end - block.start >= 6 / 3.0  # at most 180 words a minute


def test_reading_time_never_runs_into_the_next_words() -> None:
    seg = CaptionSegmenter(max_latency=60)
    blocks = seg.push([Word("Hi.", 0.0, 0.2), Word("Next", 0.5, 0.8), Word("one.", 0.9, 1.1)], 2.0)
    assert [b.text for b in blocks] == ["Hi.", "Next one."]
    assert blocks[0].end == 0.5 and blocks[1].start == 0.5
