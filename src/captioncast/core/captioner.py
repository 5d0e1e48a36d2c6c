"""From policy updates to wire responses: transcript updates and caption blocks."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from captioncast.core.layout import CaptionLayout
from captioncast.core.messages import Response, ResponseContext, build_response
from captioncast.core.policy import PolicyUpdate
from captioncast.core.segmenter import CaptionBlock, CaptionSegmenter
from captioncast.core.words import Word

SILENCE_REPORT = 2.0  # seconds of silence covered by one empty final transcript


class Captioner:
    """Turns one language's stream of policy updates into ``transcript`` and ``captions``
    responses.

    Transcript updates tile the timeline: each covers the audio since the previous final,
    partials repeat the utterance's id until the final one. Silence is covered by empty
    finals at most every ``SILENCE_REPORT`` seconds. Caption blocks come from a
    :class:`CaptionSegmenter` fed with final words only.
    """

    def __init__(
        self,
        ctx: ResponseContext,
        layout: CaptionLayout | None = None,
        max_latency: float = 5.0,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.ctx = ctx
        self.segmenter = CaptionSegmenter(layout, max_latency)
        self._new_id = new_id
        self._utterance_id = new_id()
        self._covered_until = 0.0
        self._last_partial: tuple[Word, ...] = ()

    def update(self, update: PolicyUpdate, now: float) -> list[Response]:
        """Responses for one policy update; ``now`` is the audio time received so far."""
        out: list[Response] = []
        if update.committed:
            out.append(self._transcript(update.committed, final=True))
        if update.tentative != self._last_partial:
            if update.tentative:
                out.append(self._transcript(update.tentative, final=False))
            elif self._last_partial:
                # The words on screen were taken back: close the utterance with nothing, so
                # no viewer keeps showing them through the silence that follows.
                out.append(self._transcript((), final=True, end=self._last_partial[-1].end))
            self._last_partial = update.tentative
        if update.silent_until is not None and not self._last_partial:
            if update.silent_until - self._covered_until >= SILENCE_REPORT:
                out.append(self._transcript((), final=True, end=update.silent_until))
        next_start = update.tentative[0].start if update.tentative else None
        blocks = self.segmenter.push(update.committed, now, next_start)
        if update.utterance_ended:
            blocks += self.segmenter.flush()
        return out + [self._caption(b) for b in blocks]

    def tick(self, now: float) -> list[Response]:
        """Caption blocks that must go out now to stay within the max latency."""
        return [self._caption(b) for b in self.segmenter.tick(now)]

    def flush(self) -> list[Response]:
        """The pending caption block, closed now."""
        return [self._caption(b) for b in self.segmenter.flush()]

    def end_of_stream(self, now: float) -> list[Response]:
        """Flush everything pending and close the channel's stream."""
        out = self.flush()
        end = max(now, self._covered_until)
        out.append(
            build_response(
                self.ctx,
                response_id=self._new_id(),
                type="transcript",
                words=(),
                start=self._covered_until,
                end=end,
                is_final=True,
                is_end_of_stream=True,
            )
        )
        self._covered_until = end
        return out

    def _transcript(
        self, words: tuple[Word, ...], final: bool, end: float | None = None
    ) -> Response:
        end = end if end is not None else words[-1].end
        response = build_response(
            self.ctx,
            response_id=self._utterance_id,
            type="transcript",
            words=words,
            start=self._covered_until,
            end=max(end, self._covered_until),
            is_final=final,
        )
        if final:
            self._covered_until = max(end, self._covered_until)
            self._utterance_id = self._new_id()
            self._last_partial = ()
        return response

    def _caption(self, block: CaptionBlock) -> Response:
        return build_response(
            self.ctx,
            response_id=self._new_id(),
            type="captions",
            words=block.words,
            start=block.start,
            end=block.end,
            is_final=True,
            lines=block.lines,
        )
