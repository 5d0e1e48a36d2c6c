import threading

import av
import numpy as np
import pytest

from captioncast.core.audio import SAMPLE_RATE, PcmFrame
from captioncast.ingest.decoder import FlvAudioDecoder

AAC_HEADER = 0xAF  # sound format 10, 44 kHz flag, 16-bit, stereo flag (always set for AAC)


def sine(freq: float, seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.tile(tone, (channels, 1))


def encode(
    codec_name: str, freq: float, seconds: float, rate: int, channels: int, fmt: str = "fltp"
) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Encode a tone; return (extradata, [(timestamp_ms, packet bytes)])."""
    codec = av.CodecContext.create(codec_name, "w")
    assert isinstance(codec, av.AudioCodecContext)
    codec.sample_rate = rate
    codec.layout = "stereo" if channels == 2 else "mono"
    codec.format = fmt
    codec.open()
    samples = sine(freq, seconds, rate, channels)
    if fmt == "s16p":
        samples = (samples * 32767).astype(np.int16)
    size = codec.frame_size or 1024
    packets: list[tuple[int, bytes]] = []
    frames = [samples[:, i : i + size] for i in range(0, samples.shape[1], size)]
    for index, block in enumerate(frames):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block), format=fmt, layout=codec.layout.name
        )
        frame.sample_rate = rate
        frame.pts = index * size
        packets += [(int((p.pts or 0) * 1000 / rate), bytes(p)) for p in codec.encode(frame)]
    packets += [(int((p.pts or 0) * 1000 / rate), bytes(p)) for p in codec.encode(None)]
    return bytes(codec.extradata or b""), packets


class Collector:
    def __init__(self) -> None:
        self.frames: list[PcmFrame] = []
        self.errors: list[str] = []

    def samples(self) -> np.ndarray:
        return np.concatenate([f.samples for f in self.frames])


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


def make_decoder(collector: Collector, max_pending: int = 256) -> FlvAudioDecoder:
    return FlvAudioDecoder(collector.frames.append, collector.errors.append, max_pending)


@pytest.mark.parametrize(("rate", "channels"), [(44100, 1), (48000, 2)])
def test_aac_tone_decodes_to_16khz_mono(rate: int, channels: int) -> None:
    config, packets = encode("aac", 440.0, 1.0, rate, channels)
    got = Collector()
    decoder = make_decoder(got)
    decoder.feed(0, bytes([AAC_HEADER, 0]) + config, 100.0)
    for ts, packet in packets:
        decoder.feed(ts, bytes([AAC_HEADER, 1]) + packet, 100.0 + ts / 1000)
    decoder.close()
    samples = got.samples()
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    # One second of tone, plus the encoder's priming and the padding of its last frame.
    assert 16_000 <= len(samples) <= 16_000 + 2 * 1024 * SAMPLE_RATE / rate + 16
    assert dominant_frequency(samples) == pytest.approx(440.0, abs=3.0)
    steady = samples[2000:14000]  # away from the encoder's transients at both ends
    assert 0.3 < float(np.sqrt(np.mean(steady**2))) < 0.55
    assert got.errors == []
    assert decoder.dropped == 0
    assert decoder.corrupt == 0
    timed = got.frames[:-1]  # the last one is the resampler's flushed tail
    assert [f.pts for f in timed] == [ts / 1000 for ts, _ in packets[-len(timed) :]]
    assert timed[1].arrival_epoch == pytest.approx(100.0 + (timed[1].pts or 0), abs=1e-6)


def test_mp3_tone_decodes() -> None:
    _, packets = encode("libmp3lame", 1000.0, 1.0, 44100, 1, fmt="s16p")
    got = Collector()
    decoder = make_decoder(got)
    for ts, packet in packets:
        decoder.feed(ts, bytes([0x2E]) + packet, 0.0)  # format 2, 44 kHz, 16-bit, mono
    decoder.close()
    samples = got.samples()
    assert abs(len(samples) - 16_000) < 1500
    assert dominant_frequency(samples) == pytest.approx(1000.0, abs=3.0)
    assert got.errors == []


def test_pcm_decodes_with_rate_from_the_tag_header() -> None:
    tone = (sine(300.0, 1.0, 22050, 1)[0] * 32767).astype("<i2")
    got = Collector()
    decoder = make_decoder(got)
    header = (3 << 4) | (2 << 2) | 2  # PCM little-endian, 22 kHz, 16-bit, mono
    for i, start in enumerate(range(0, len(tone), 2205)):
        decoder.feed(i * 100, bytes([header]) + tone[start : start + 2205].tobytes(), 0.0)
    decoder.close()
    samples = got.samples()
    assert abs(len(samples) - 16_000) <= 2
    assert dominant_frequency(samples) == pytest.approx(300.0, abs=2.0)


def test_unsupported_codec_reported_once() -> None:
    got = Collector()
    decoder = make_decoder(got)
    for ts in range(5):
        decoder.feed(ts, bytes([0x9F, 1, 2, 3]), 0.0)  # enhanced RTMP ExHeader
    decoder.close()
    assert len(got.errors) == 1
    assert "unsupported audio codec" in got.errors[0]
    assert got.frames == []


def test_corrupt_packets_are_skipped_and_counted() -> None:
    config, packets = encode("aac", 440.0, 0.5, 44100, 1)
    got = Collector()
    decoder = make_decoder(got)
    decoder.feed(0, bytes([AAC_HEADER, 1]) + packets[0][1], 0.0)  # before the config
    decoder.feed(0, bytes([AAC_HEADER, 0]) + config, 0.0)
    rng = np.random.default_rng(5)
    for ts, packet in packets:
        decoder.feed(ts, bytes([AAC_HEADER, 1]) + rng.bytes(len(packet)), 0.0)
        decoder.feed(ts, bytes([AAC_HEADER, 1]) + packet, 0.0)
    decoder.close()
    assert decoder.corrupt >= 1
    assert got.errors == []
    assert len(got.samples()) > 0.4 * SAMPLE_RATE


def test_full_queue_drops_the_oldest_and_never_blocks() -> None:
    entered, release = threading.Event(), threading.Event()
    frames: list[PcmFrame] = []

    def slow(frame: PcmFrame) -> None:
        frames.append(frame)
        entered.set()
        release.wait(10)

    decoder = FlvAudioDecoder(slow, lambda reason: None, max_pending=8)
    header = (3 << 4) | (3 << 2) | 2  # PCM, 44 kHz, 16-bit, mono
    packet = bytes([header]) + bytes(882)  # 10 ms
    decoder.feed(0, packet, 0.0)
    assert entered.wait(10)
    for ts in range(1, 21):  # 20 more, into a queue of 8, while the thread is stuck
        decoder.feed(ts * 10, packet, 0.0)
    assert decoder.dropped == 12
    release.set()
    decoder.close()
    # Packets 1..12 were dropped; 13..20 decoded; then the resampler's flushed tail.
    assert [f.pts for f in frames[:-1]] == pytest.approx([0.0] + [n / 100 for n in range(13, 21)])
    assert frames[-1].pts == pytest.approx(0.21)


def test_feed_after_close_is_ignored() -> None:
    got = Collector()
    decoder = make_decoder(got)
    decoder.close()
    decoder.feed(0, bytes([0x3E]) + bytes(100), 0.0)
    decoder.close()
    assert got.frames == []


def test_aac_configuration_change_mid_stream() -> None:
    got = Collector()
    decoder = make_decoder(got)
    offset = 0
    for rate in (44100, 48000):
        config, packets = encode("aac", 440.0, 0.5, rate, 1)
        decoder.feed(offset, bytes([AAC_HEADER, 0]) + config, 0.0)
        for ts, packet in packets:
            decoder.feed(offset + ts, bytes([AAC_HEADER, 1]) + packet, 0.0)
        offset += 1000
    decoder.close()
    samples = got.samples()
    assert 16_000 <= len(samples) <= 16_000 + 4 * 1024 * SAMPLE_RATE / 44100
    assert decoder.corrupt == 0
    assert got.errors == []


def test_mp3_sample_rate_change_within_one_stream() -> None:
    got = Collector()
    decoder = make_decoder(got)
    for offset, rate in ((0, 44100), (1000, 22050)):
        _, packets = encode("libmp3lame", 1000.0, 0.5, rate, 1, fmt="s16p")
        for ts, packet in packets:
            decoder.feed(offset + ts, bytes([0x2E]) + packet, 0.0)
    decoder.close()
    assert abs(len(got.samples()) - 16_000) < 2000
    assert decoder.corrupt == 0
    assert dominant_frequency(got.samples()) == pytest.approx(1000.0, abs=3.0)


@pytest.mark.parametrize("empty", [b"\xaf\x01", b"\xaf", b"\xaf\x00"])
def test_empty_codec_body_does_not_end_the_stream(empty: bytes) -> None:
    # An empty packet is FFmpeg's end-of-stream: queued, it would silence everything after it.
    config, packets = encode("aac", 440.0, 1.0, 44100, 1)
    got = Collector()
    decoder = make_decoder(got)
    decoder.feed(0, bytes([AAC_HEADER, 0]) + config, 0.0)
    half = len(packets) // 2
    for index, (ts, packet) in enumerate(packets):
        if index == half:
            decoder.feed(ts, empty, 0.0)
        decoder.feed(ts, bytes([AAC_HEADER, 1]) + packet, 0.0)
    decoder.close()
    samples = got.samples()
    assert len(samples) >= 16_000
    assert dominant_frequency(samples[8000:]) == pytest.approx(440.0, abs=3.0)
    assert decoder.corrupt == 1
    assert got.errors == []


def test_empty_pcm_tag_is_skipped() -> None:
    got = Collector()
    decoder = make_decoder(got)
    header = (3 << 4) | (3 << 2) | 2  # PCM, 44 kHz, 16-bit, mono
    decoder.feed(0, bytes([header]) + bytes(882), 0.0)
    decoder.feed(10, bytes([header]), 0.0)
    decoder.feed(20, bytes([header]) + bytes(882), 0.0)
    decoder.close()
    assert decoder.corrupt == 1
    assert [f.pts for f in got.frames[:-1]] == [0.0, 0.02]


def test_close_with_a_full_queue_still_stops_the_thread() -> None:
    entered, release = threading.Event(), threading.Event()
    frames: list[PcmFrame] = []

    def slow(frame: PcmFrame) -> None:
        frames.append(frame)
        entered.set()
        release.wait(10)

    decoder = FlvAudioDecoder(slow, lambda reason: None, max_pending=4)
    thread = decoder._thread
    header = (3 << 4) | (3 << 2) | 2  # PCM, 44 kHz, 16-bit, mono
    packet = bytes([header]) + bytes(882)
    decoder.feed(0, packet, 0.0)
    assert entered.wait(10)
    for ts in range(1, 5):  # fills the queue while the thread is stuck in the callback
        decoder.feed(ts * 10, packet, 0.0)
    decoder.close(timeout=0.2)
    assert thread.is_alive()
    release.set()
    thread.join(5)
    assert not thread.is_alive()
    # Closed while stuck: the queued packets were abandoned, nothing more was emitted.
    assert len(frames) == 1
