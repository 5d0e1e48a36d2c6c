"""The I/O-free core of :class:`captioncast.ingest.hls.HlsOutput`: the subtitle tracks and
their segments, the master playlist, what is known of the published stream, the bounded queue
of FLV tags waiting for ffmpeg, and ffmpeg's command line.

Nothing here reads a file, a clock or a socket: cues, flow times and tags go in; file names,
file contents, bytes for ffmpeg and its command line come out.

Timing. Tags come in on the flow's clock (ms), and ffmpeg runs with ``-copyts -muxdelay 0
-muxpreload 0 -output_ts_offset 10``, so an input timestamp of ``t`` seconds becomes the
MPEG-TS PTS ``900000 + 90000·t`` exactly (measured with ``ffprobe -show_packets``; without
``-copyts`` ffmpeg shifts the first packet to zero, and its default mux delay adds 1.4 s).
Every subtitle segment says ``X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000`` and stamps
its cues with flow time, so a caption for flow time ``t`` shows at the video frame of ``t``.
The 10 s offset keeps a frame whose composition time lands before flow time 0 off the 33-bit
wrap.

Caption blocks arrive late (up to the flow's max latency after they start), so the subtitle
segment for [k·D, (k+1)·D) is cut only once the flow clock passes (k+1)·D + ``caption_delay``;
a cue that arrives after its segment was cut is trimmed to the first open segment, or counted
in ``late_cues`` when nothing of it is left. A cue spanning a boundary is in every segment it
overlaps.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from captioncast.core.exports import cue_from_response, display_lines, vtt_escape, vtt_time
from captioncast.core.messages import Response
from captioncast.ingest.flv import AUDIO, VIDEO, flv_tag

MPEGTS_HZ = 90_000
PTS_OFFSET_SECONDS = 10
PTS_AT_ZERO = PTS_OFFSET_SECONDS * MPEGTS_HZ  # the PTS of flow time 0 in every .ts segment
VIDEO_PLAYLIST = "video.m3u8"
WRITE_CHUNK = 256 * 1024
ANALYZE_SECONDS = 2.0  # video starting later than this after audio is not remuxed
_LANG_SAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption block of a subtitle track on the flow clock (seconds).

    Not a ``TranscriptCue``: a track trims a late cue to its first open segment, so a
    subtitle cue is only a span and the text shown in it, with none of the block's other
    clocks (they would no longer hold for the trimmed start).
    """

    start: float
    end: float
    text: str


def subtitle_cue(response: Response) -> Cue | None:
    """The cue of a final ``captions`` response, showing the lines its transcript exports
    show (``core.exports``), or None for anything else."""
    # The channel name is not part of a subtitle cue: a track is one channel.
    block = None if response.get("is_end_of_stream") else cue_from_response("", response)
    if block is None or not (lines := display_lines(block)):
        return None
    return Cue(block.start, max(block.end, block.start + 0.001), "\n".join(lines))


def vtt_segment(cues: Iterable[Cue]) -> str:
    """A WebVTT segment whose cue times are flow time (flow time 0 is ``PTS_AT_ZERO``)."""
    parts = [f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{PTS_AT_ZERO},LOCAL:00:00:00.000\n"]
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        parts.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n{vtt_escape(cue.text)}\n")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class TrackFiles:
    """What a :class:`WebVttTrack` step asks its owner to write and delete."""

    writes: dict[str, str]  # file name → text; the playlist comes last
    deletes: list[str]


class WebVttTrack:
    """One channel's live WebVTT media playlist. No I/O: cues and the clock go in, file
    contents come out.

    ``playlist_size`` segments are listed (0: all of them, as an EVENT playlist); files that
    fell out of the window are deleted two segments later, so a player that just read the
    playlist can still fetch them.
    """

    def __init__(self, stem: str, segment_seconds: float, playlist_size: int) -> None:
        self.stem = stem
        self.playlist = f"{stem}.m3u8"
        self.segment_seconds = segment_seconds
        self.playlist_size = playlist_size
        self._cues: list[Cue] = []
        self._next: int | None = None  # the first segment not yet cut
        self._listed: deque[tuple[int, float]] = deque()  # (index, duration)
        self._on_disk: deque[int] = deque()
        self.ended = False
        self.late_cues = 0

    def segment_name(self, index: int) -> str:
        return f"{self.stem}-{index}.vtt"

    def begin(self, now: float) -> None:
        """Start the track at the segment holding ``now`` (the first flow time seen)."""
        if self._next is None:
            self._next = max(0, math.floor(now / self.segment_seconds + 1e-9))

    def add(self, cue: Cue) -> None:
        if self.ended:
            return
        if self._next is not None:
            open_from = self._next * self.segment_seconds
            if cue.end <= open_from:
                self.late_cues += 1
                return
            if cue.start < open_from:
                cue = Cue(open_from, cue.end, cue.text)
        self._cues.append(cue)

    def cut(self, until: float) -> TrackFiles:
        """Cut every segment that ends at or before flow time ``until``."""
        if self._next is None or self.ended:
            return TrackFiles({}, [])
        return self._finish_step(self._cut_until(until))

    def finish(self, end: float) -> TrackFiles:
        """Cut the remaining segments up to flow time ``end`` and end the playlist."""
        if self.ended:
            return TrackFiles({}, [])
        self.begin(end)
        assert self._next is not None
        writes = self._cut_until(end)
        start = self._next * self.segment_seconds
        if end - start > 0.0005 or not self._listed:
            writes.update(self._cut_one(max(end - start, 0.001)))
        self.ended = True
        return self._finish_step(writes)

    def _cut_until(self, until: float) -> dict[str, str]:
        assert self._next is not None
        writes: dict[str, str] = {}
        while (self._next + 1) * self.segment_seconds <= until + 1e-9:
            writes.update(self._cut_one(self.segment_seconds))
        return writes

    def _cut_one(self, duration: float) -> dict[str, str]:
        assert self._next is not None
        index = self._next
        start = index * self.segment_seconds
        end = start + duration
        text = vtt_segment(c for c in self._cues if c.start < end and c.end > start)
        self._cues = [c for c in self._cues if c.end > end]
        self._next = index + 1
        self._listed.append((index, duration))
        self._on_disk.append(index)
        return {self.segment_name(index): text}

    def _finish_step(self, writes: dict[str, str]) -> TrackFiles:
        deletes: list[str] = []
        if self.playlist_size > 0:
            while len(self._listed) > self.playlist_size:
                self._listed.popleft()
            while len(self._on_disk) > self.playlist_size + 2:
                deletes.append(self.segment_name(self._on_disk.popleft()))
        if writes or self.ended:
            writes[self.playlist] = self.playlist_text()
        return TrackFiles(writes, deletes)

    def playlist_text(self) -> str:
        first = self._listed[0][0] if self._listed else (self._next or 0)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(self.segment_seconds - 1e-9)}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        if self.playlist_size == 0:
            lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
        for index, duration in self._listed:
            lines += [f"#EXTINF:{duration:.3f},", self.segment_name(index)]
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    @property
    def has_segments(self) -> bool:
        return bool(self._listed)


class SubtitleTracks:
    """One :class:`WebVttTrack` per caption channel, on the flow clock.

    ``channels`` are (channel name, language) pairs; a segment is cut ``caption_delay``
    seconds after its end. The tracks begin at the first flow time seen (a tag's or, before
    any tag, a caption's), and the clock only moves forward.
    """

    def __init__(
        self,
        channels: Sequence[tuple[str, str]],
        segment_seconds: float,
        playlist_size: int,
        caption_delay: float,
    ) -> None:
        stems = track_stems([language for _, language in channels])
        self._tracks = {
            name: WebVttTrack(stem, segment_seconds, playlist_size)
            for (name, _), stem in zip(channels, stems, strict=True)
        }
        self.renditions = [  # (language, subtitle playlist), as the master playlist lists them
            (language, track.playlist)
            for (_, language), track in zip(channels, self._tracks.values(), strict=True)
        ]
        self.caption_delay = caption_delay
        self.first: float | None = None  # the first flow time seen (seconds)
        self.now = 0.0  # the latest

    def advance(self, now: float) -> list[TrackFiles]:
        """The flow clock moved to ``now`` (seconds): cut the segments whose captions can no
        longer come."""
        if self.first is None:
            self.first = now
            for track in self._tracks.values():
                track.begin(now)
        if now <= self.now:
            return []
        self.now = now
        return [track.cut(now - self.caption_delay) for track in self._tracks.values()]

    def add(self, channel: str, response: Response) -> list[TrackFiles]:
        """A response published on ``channel``: a final caption block becomes a cue."""
        track = self._tracks.get(channel)
        cue = subtitle_cue(response)
        if track is None or cue is None:
            return []
        files = self.advance(cue.start) if self.first is None else []
        track.add(cue)
        return files

    def finish(self) -> list[TrackFiles]:
        """Cut the last segments, up to the flow clock, and end every playlist."""
        return [track.finish(self.now) for track in self._tracks.values()]

    @property
    def late_cues(self) -> int:
        """Caption blocks that came after every segment they overlap was cut."""
        return sum(track.late_cues for track in self._tracks.values())

    @property
    def ready(self) -> bool:
        """Every track lists a segment (a player would fail on an empty one)."""
        return all(track.has_segments for track in self._tracks.values())


def track_stems(languages: Sequence[str]) -> list[str]:
    """``subs-<lang>`` per channel, made file-name safe and unique."""
    stems: list[str] = []
    for language in languages:
        stem = "subs-" + (_LANG_SAFE.sub("_", language) or "und")
        while stem in stems:
            stem += "_"
        stems.append(stem)
    return stems


def master_playlist(
    channels: Sequence[tuple[str, str]],  # (language, subtitle playlist)
    bandwidth: int,
    codecs: str | None,
    start_offset: float,
) -> str:
    """The master playlist: one rendition, its subtitle group, a suggested start offset."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines.append(f"#EXT-X-START:TIME-OFFSET=-{start_offset:.1f},PRECISE=NO")
    for i, (language, uri) in enumerate(channels):
        default = "YES" if i == 0 else "NO"
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{language}",'
            f'LANGUAGE="{language}",DEFAULT={default},AUTOSELECT=YES,FORCED=NO,URI="{uri}"'
        )
    attributes = [f"BANDWIDTH={bandwidth}"]
    if codecs:
        attributes.append(f'CODECS="{codecs}"')
    if channels:
        attributes.append('SUBTITLES="subs"')
    lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), VIDEO_PLAYLIST]
    return "\n".join(lines) + "\n"


def sequence_header_codec(kind: int, payload: bytes) -> str | None:
    """The RFC 6381 codec of an AVC or AAC sequence header tag, else None."""
    if kind == VIDEO and len(payload) >= 9 and payload[0] & 0x0F == 7 and payload[1] == 0:
        return f"avc1.{payload[6]:02x}{payload[7]:02x}{payload[8]:02x}"
    if kind == AUDIO and len(payload) >= 3 and payload[0] >> 4 == 10 and payload[1] == 0:
        object_type = payload[2] >> 3
        return f"mp4a.40.{object_type}" if object_type else None
    return None


def is_sequence_header(kind: int, payload: bytes) -> bool:
    """An AVC/HEVC decoder configuration or an AAC AudioSpecificConfig: never dropped."""
    if len(payload) < 2:
        return False
    if kind == AUDIO:
        return payload[0] >> 4 == 10 and payload[1] == 0
    if payload[0] & 0x80:  # enhanced RTMP: packet type 0 is the sequence start
        return payload[0] & 0x0F == 0
    return payload[0] & 0x0F in (7, 12) and payload[1] == 0


def is_keyframe(kind: int, payload: bytes) -> bool:
    return kind == VIDEO and bool(payload) and (payload[0] >> 4) & 0x07 == 1


class PublishedStream:
    """What the output knows of the published media: whether it has video, its decoder
    configurations (sequence headers) and their codecs, and how many bytes it carried."""

    def __init__(self) -> None:
        self.has_video = False
        self.bytes = 0
        self.codecs: dict[int, str] = {}  # RFC 6381, by tag kind
        self._configs: dict[int, bytes] = {}
        self._first_tag: float | None = None

    def saw(self, kind: int, time: float) -> None:
        """A tag of ``kind`` at flow time ``time`` (seconds)."""
        if self._first_tag is None:
            self._first_tag = time
        self.has_video = self.has_video or kind == VIDEO

    def restart_preamble(
        self, kind: int, timestamp_ms: int, payload: bytes, now: float
    ) -> bytes | None:
        """What a new ffmpeg must get first (the other kinds' sequence headers) when the
        sequence header ``payload`` needs one, else None.

        ``-c copy`` keeps the first configuration it saw and would write undecodable
        segments after a changed one (a publisher with other encoder settings); video that
        starts more than ``ANALYZE_SECONDS`` after the first tag, at flow time ``now``, was
        given up on.
        """
        previous = self._configs.get(kind)
        late_video = kind == VIDEO and previous is None and self._started_audio_only(now)
        if not (previous is not None and previous != payload) and not late_video:
            return None
        others = [flv_tag(k, timestamp_ms, c) for k, c in self._configs.items() if k != kind]
        return b"".join(others)

    def _started_audio_only(self, now: float) -> bool:
        return self._first_tag is not None and now - self._first_tag > ANALYZE_SECONDS

    def configure(self, kind: int, payload: bytes) -> bool:
        """Keep the sequence header ``payload``; True when it changed the stream's codecs."""
        self._configs[kind] = payload
        codec = sequence_header_codec(kind, payload)
        if codec is None or self.codecs.get(kind) == codec:
            return False
        self.codecs[kind] = codec
        return True

    def codecs_attribute(self) -> str | None:
        """The master playlist's CODECS, or None while a stream's codec is unknown."""
        kinds = (VIDEO, AUDIO) if self.has_video else (AUDIO,)
        codecs = [self.codecs.get(kind) for kind in kinds]
        return ",".join(c for c in codecs if c) if all(codecs) else None

    def bandwidth(self, span: float) -> int:
        """The master playlist's BANDWIDTH: the mean bit rate over ``span`` seconds (at
        least one), with 20 % headroom, and no less than 64 kbit/s."""
        return max(64_000, int(self.bytes * 8 / max(span, 1.0) * 1.2))


@dataclass(frozen=True, slots=True)
class _Restart:
    preamble: bytes


class TagQueue:
    """FLV tags waiting for ffmpeg's stdin, bounded by ``limit`` bytes.

    When a tag does not fit, tags are dropped (counted in ``dropped``) until the queue has
    drained to half and, once the stream has shown video, a video keyframe comes: a decoder
    can only resume there. Sequence headers always pass (they are small, and without them
    nothing after them decodes).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self.dropped = 0
        self.dropping = False
        self.seen_video = False
        self._tags: deque[bytes | _Restart] = deque()

    def __len__(self) -> int:
        return len(self._tags)

    def offer(self, kind: int, timestamp_ms: int, payload: bytes) -> bool:
        """Queue one tag, or drop it; True when queued."""
        self.seen_video = self.seen_video or kind == VIDEO
        if not self._admit(kind, payload):
            self.dropped += 1
            return False
        data = flv_tag(kind, timestamp_ms, payload)
        self._tags.append(data)
        self.queued += len(data)
        return True

    def _admit(self, kind: int, payload: bytes) -> bool:
        if is_sequence_header(kind, payload):
            return True
        if self.dropping:
            drained = self.queued <= self.limit // 2
            if not drained or (self.seen_video and not is_keyframe(kind, payload)):
                return False
            self.dropping = False
        if self.queued + len(payload) > self.limit:
            self.dropping = True
            return False
        return True

    def mark_restart(self, preamble: bytes) -> None:
        """Tags after this point go to a new ffmpeg, which gets ``preamble`` (the current
        sequence headers) first."""
        self._tags.append(_Restart(preamble))

    def take_restart(self) -> bytes | None:
        """The preamble of the restart mark at the front (taking it), or None."""
        front = self._tags[0] if self._tags else None
        if isinstance(front, _Restart):
            self._tags.popleft()
            return front.preamble
        return None

    def take(self, max_bytes: int = WRITE_CHUNK) -> bytes:
        """Whole tags from the front, about ``max_bytes`` of them, up to a restart mark."""
        parts: list[bytes] = []
        size = 0
        while self._tags and size < max_bytes and isinstance(data := self._tags[0], bytes):
            self._tags.popleft()
            parts.append(data)
            size += len(data)
        self.queued -= size
        return b"".join(parts)

    def clear(self) -> None:
        self._tags.clear()
        self.queued = 0


def ffmpeg_command(
    ffmpeg: str, directory: Path, segment_seconds: float, playlist_size: int, append: bool
) -> list[str]:
    """ffmpeg remuxing FLV on stdin into ``directory``'s video playlist; ``append``
    continues the playlist after a discontinuity. The playlist is left open (its owner ends
    it), and keeps ``playlist_size`` segments (0: all, as an EVENT playlist)."""
    hls_flags = "independent_segments+temp_file+omit_endlist"
    if append:
        hls_flags += "+append_list+discont_start"
    window = ["-hls_list_size", str(playlist_size)]
    if playlist_size > 0:
        hls_flags += "+delete_segments"
    else:
        window += ["-hls_playlist_type", "event"]
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
        # FLV from a pipe: ffmpeg would wait up to 90 s of media for a video stream
        # that an audio-only publisher never sends.
        "-analyzeduration", str(int(ANALYZE_SECONDS * 1_000_000)),
        "-f", "flv", "-i", "pipe:0",
        "-map", "0:v?", "-map", "0:a?", "-c", "copy",
        # Input time t (s) becomes PTS 90000·(t + 10): see the module docstring.
        "-copyts", "-muxdelay", "0", "-muxpreload", "0",
        "-output_ts_offset", str(PTS_OFFSET_SECONDS),
        "-f", "hls", "-hls_time", f"{segment_seconds:g}", *window,
        "-hls_flags", hls_flags,
        "-hls_segment_filename", str(directory / "video%06d.ts"),
        str(directory / VIDEO_PLAYLIST),
    ]  # fmt: skip
