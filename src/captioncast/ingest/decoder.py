"""Decodes FLV audio tag bodies to 16 kHz mono float32 in a thread of its own (PyAV).

``feed()`` never blocks: packets wait in a bounded queue and, when it is full, the oldest
waiting packet is dropped and counted in :attr:`FlvAudioDecoder.dropped`, because ingest
must never stall the event loop. Corrupt packets are skipped and counted in
:attr:`FlvAudioDecoder.corrupt`. A codec that cannot be decoded is reported once through
``on_error``. This is the only module of the ingest that imports PyAV.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from captioncast.core.audio import SAMPLE_RATE, PcmFrame, Samples

logger = logging.getLogger(__name__)

AAC = 10
_AAC_SEQUENCE_HEADER = 0
_FLV_RATES = (5512, 11025, 22050, 44100)
# FLV sound format → (FFmpeg decoder, fixed sample rate or None to read the tag header).
_CODECS: dict[int, tuple[str, int | None]] = {
    1: ("adpcm_swf", None),
    2: ("mp3", None),
    4: ("nellymoser", 16000),
    5: ("nellymoser", 8000),
    6: ("nellymoser", None),
    7: ("pcm_alaw", 8000),
    8: ("pcm_mulaw", 8000),
    11: ("speex", 16000),
    14: ("mp3", None),
}
_FORMAT_NAMES = {0: "PCM", 3: "PCM", 9: "enhanced-RTMP audio", 13: "unknown", 15: "unknown"}
_STOP = None
# How often an idle decoder thread looks whether it was closed without its stop marker.
_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class _CodecKey:
    """Everything that decides how a packet is decoded; a change means a new decoder."""

    name: str
    sample_rate: int | None
    channels: int
    extradata: bytes | None


@dataclass(frozen=True, slots=True)
class _Packet:
    key: _CodecKey | None  # None: a sound format we cannot decode
    sound_format: int
    body: bytes
    timestamp_ms: int
    arrival_epoch: float


def _codec_key(header: int, config: bytes | None) -> _CodecKey | None:
    sound_format, channels = header >> 4, (header & 1) + 1
    header_rate = _FLV_RATES[(header >> 2) & 3]
    if sound_format == AAC:
        return _CodecKey("aac", None, channels, config)
    if sound_format in (0, 3):  # PCM, 8-bit unsigned or 16-bit little-endian
        name = "pcm_s16le" if header & 2 else "pcm_u8"
        return _CodecKey(name, header_rate, channels, None)
    if sound_format in _CODECS:
        name, rate = _CODECS[sound_format]
        if name == "mp3":  # MP3 frames describe themselves
            return _CodecKey(name, None, channels, None)
        return _CodecKey(name, rate or header_rate, channels, None)
    return None


class FlvAudioDecoder:
    """Turns one publisher's FLV audio tags into :class:`PcmFrame` objects.

    ``on_frame`` and ``on_error`` are called from the decoder thread; bridge to asyncio with
    ``loop.call_soon_threadsafe``. Each frame's ``pts`` is its packet's RTMP timestamp in
    seconds (the resampler's delay of a few samples is not subtracted).
    """

    def __init__(
        self,
        on_frame: Callable[[PcmFrame], None],
        on_error: Callable[[str], None],
        max_pending: int = 256,
    ) -> None:
        self._on_frame = on_frame
        self._on_error = on_error
        self._queue: queue.Queue[_Packet | None] = queue.Queue(maxsize=max_pending)
        self._aac_config: bytes | None = None
        self._closed = False
        self._abandoned = False
        self._dropped = 0
        self._corrupt = 0
        self._error_reported = False
        self._key: _CodecKey | None = None
        self._codec: av.AudioCodecContext | None = None
        self._resampler: av.AudioResampler | None = None
        self._last: _Packet | None = None
        self._next_pts: float | None = None
        self._thread = threading.Thread(target=self._run, name="flv-audio-decoder", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Packets dropped because the queue was full."""
        return self._dropped

    @property
    def corrupt(self) -> int:
        """Packets skipped because they could not be decoded."""
        return self._corrupt

    def feed(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        """Queue one FLV audio tag body for decoding; returns at once."""
        if self._closed or not payload:
            return
        header, body = payload[0], payload[1:]
        if header >> 4 == AAC:
            if body[:1] == bytes([_AAC_SEQUENCE_HEADER]):
                if len(body) > 1:
                    # Kept here, not queued: the drop policy must never lose the configuration.
                    self._aac_config = bytes(body[1:])
                else:
                    self._corrupt += 1  # an empty AudioSpecificConfig; keep the one we have
                return
            body = body[1:]
        if not body:
            # An empty packet is FFmpeg's end-of-stream signal: after it, the codec refuses
            # every later packet. A tag with no codec data is corrupt, never a flush.
            self._corrupt += 1
            return
        key = _codec_key(header, self._aac_config)
        self._put(_Packet(key, header >> 4, bytes(body), timestamp_ms, arrival_epoch))

    def close(self, timeout: float = 5.0) -> None:
        """Decode what is queued, flush the resampler, and stop the thread.

        Blocks for as long as that takes (at most ``timeout`` seconds); from asyncio, call it
        through ``asyncio.to_thread``. If the thread is still busy when ``timeout`` runs out,
        the stop request gets in all the same (with a full queue, in the oldest packet's
        place, counted in :attr:`dropped`), what is left in the queue is skipped, nothing
        more is emitted once the current packet is done, and the thread then ends.
        """
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            # Stuck in a callback, say. The stop marker must get in all the same: it takes
            # the oldest packet's place, and the rest of the queue is skipped.
            self._abandoned = True
            self._put(_STOP)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            # Skip whatever is still queued so that the thread ends as soon as it is free.
            self._abandoned = True
            logger.warning("audio decoder did not drain in time")

    def _put(self, packet: _Packet | None) -> None:
        while True:
            try:
                self._queue.put_nowait(packet)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._dropped += 1
                except queue.Empty:
                    pass

    # -- the decoder thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                packet = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self._closed:  # the stop marker was lost to a feed() racing close()
                    break
                continue
            if packet is _STOP:
                break
            if self._abandoned:
                continue
            try:
                self._decode(packet)
            except Exception:
                self._corrupt += 1
                logger.debug("skipping an undecodable audio packet", exc_info=True)
        if self._abandoned:
            return
        try:
            self._flush()
        except Exception:
            logger.debug("flushing the audio decoder failed", exc_info=True)

    def _decode(self, packet: _Packet) -> None:
        if packet.key is None:
            name = _FORMAT_NAMES.get(packet.sound_format, f"format {packet.sound_format}")
            self._report(f"unsupported audio codec in the stream ({name}); publish AAC or MP3")
            return
        if packet.key.name == "aac" and packet.key.extradata is None:
            self._corrupt += 1  # raw AAC before its AudioSpecificConfig
            return
        if packet.key != self._key:
            self._flush()
            self._open(packet.key)
        if self._codec is None:
            return  # this configuration failed to open; already reported
        frames = self._codec.decode(av.Packet(packet.body))
        self._emit(packet, frames)

    def _open(self, key: _CodecKey) -> None:
        self._key, self._codec, self._resampler = key, None, None
        try:
            codec = av.CodecContext.create(key.name, "r")
            if not isinstance(codec, av.AudioCodecContext):
                raise ValueError("not an audio codec")
            if key.sample_rate is not None:
                codec.sample_rate = key.sample_rate
                codec.layout = "stereo" if key.channels == 2 else "mono"
            if key.extradata is not None:
                codec.extradata = key.extradata
            codec.open()
        except (av.FFmpegError, ValueError) as exc:
            self._report(f"cannot decode the stream's {key.name} audio: {exc}")
            return
        self._codec = codec

    def _emit(self, packet: _Packet, frames: list[av.AudioFrame]) -> None:
        pieces: list[Samples] = []
        for frame in frames:
            pieces.extend(self._resample(frame))
        self._last = packet
        if pieces:
            samples = np.concatenate(pieces).astype(np.float32, copy=False)
            pts = packet.timestamp_ms / 1000
            self._next_pts = pts + len(samples) / SAMPLE_RATE
            self._on_frame(PcmFrame(samples, pts=pts, arrival_epoch=packet.arrival_epoch))

    def _resample(self, frame: av.AudioFrame | None) -> list[Samples]:
        if frame is not None:
            frame.pts = None  # RTMP timestamps are carried beside the samples
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            try:
                out = self._resampler.resample(frame)
            except ValueError:  # the input format changed mid-stream (MP3 may)
                tail = self._resample(None)
                return tail + self._resample(frame)
        else:
            if self._resampler is None:
                return []
            out = self._resampler.resample(None)
            self._resampler = None
        return [piece.to_ndarray()[0] for piece in out]

    def _flush(self) -> None:
        """Drain the codec and the resampler; emit what they held after the last packet."""
        pieces: list[Samples] = []
        if self._codec is not None:
            for frame in self._codec.decode(None):
                pieces.extend(self._resample(frame))
        pieces.extend(self._resample(None))
        last = self._last
        if pieces and last is not None:
            samples = np.concatenate(pieces).astype(np.float32, copy=False)
            self._on_frame(PcmFrame(samples, pts=self._next_pts, arrival_epoch=last.arrival_epoch))

    def _report(self, reason: str) -> None:
        if not self._error_reported:
            self._error_reported = True
            logger.warning("audio decoder: %s", reason)
            self._on_error(reason)
