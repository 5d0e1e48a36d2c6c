from captioncast.core.layout import CaptionLayout, layout_lines
from captioncast.core.words import Word


def words(text: str) -> list[Word]:
    return [Word(t, i * 0.3, i * 0.3 + 0.25) for i, t in enumerate(text.split())]


def test_short_text_is_one_line() -> None:
    assert layout_lines(words("Hello there, world."), CaptionLayout()) == ["Hello there, world."]


def test_two_lines_break_after_comma_not_before_article() -> None:
    lines = layout_lines(
        words("When the rain stopped, the children ran out into the garden"), CaptionLayout()
    )
    assert lines == ["When the rain stopped,", "the children ran out into the garden"]
    assert all(len(line) <= 37 for line in lines)


def test_too_long_for_the_layout_is_none() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    assert layout_lines(words(text), CaptionLayout(20, 2)) is None


def test_single_overlong_word_gets_its_own_line() -> None:
    lines = layout_lines(words("a supercalifragilisticexpialidocious word"), CaptionLayout(10, 3))
    assert lines == ["a", "supercalifragilisticexpialidocious", "word"]
