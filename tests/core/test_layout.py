from captioncast.core.layout import CaptionLayout, break_quality, layout_lines
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


def test_a_name_is_not_split_across_lines() -> None:
    lines = layout_lines(
        words("Tonight the members of City Council voted for the plan"), CaptionLayout()
    )
    assert lines is not None
    assert not any(line.endswith("City") for line in lines), lines


def test_a_preposition_stays_with_its_noun() -> None:
    lines = layout_lines(
        words("The children ran out into the garden behind the old house"), CaptionLayout()
    )
    assert lines is not None
    last_words = [line.split()[-1] for line in lines[:-1]]
    assert not set(last_words) & {"into", "the", "behind"}, lines


def test_a_number_stays_with_its_unit() -> None:
    lines = layout_lines(
        words("Temperatures will reach about 20 degrees in the south today"), CaptionLayout(30, 2)
    )
    assert lines is not None
    assert not any(line.endswith("20") for line in lines), lines


def test_breaking_inside_a_name_or_after_a_number_scores_worse_than_between_plain_words() -> None:
    plain = break_quality(words("members city council voted"), 1)
    assert break_quality(words("members City Council voted"), 1) < plain - 1
    assert break_quality(words("about 20 degrees today"), 1) < plain - 1
    assert break_quality(words("went into the garden"), 2) < plain - 1
    # A capital that only starts a sentence is no name.
    assert break_quality(words("home. Then Paris"), 1) >= plain
