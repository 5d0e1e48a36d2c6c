import numpy as np

from captioncast.core.audio import PcmFrame
from captioncast.core.timeline import Timeline


def frame(n: int, pts: float | None, epoch: float) -> PcmFrame:
    return PcmFrame(np.zeros(n, dtype=np.float32), pts, epoch)


def test_audio_time_counts_samples_and_maps_back_to_pts_and_epoch() -> None:
    tl = Timeline()
    a = tl.place(frame(16000, 10.0, 1000.0))
    b = tl.place(frame(8000, 11.0, 1001.0))
    assert (a.audio_time, b.audio_time) == (0.0, 1.0)
    assert tl.now == 1.5
    at = tl.at(1.25)
    assert at.pts == 11.25 and at.epoch == 1001.25
    assert tl.at(0.5).pts == 10.5


def test_reconnect_continues_audio_time_and_records_gap() -> None:
    tl = Timeline()
    tl.place(frame(16000, 5.0, 100.0))
    tl.publisher_left()
    c = tl.place(frame(16000, 0.0, 130.0))  # new publisher restarts its PTS at zero
    assert c.audio_time == 1.0
    assert tl.at(1.5).pts == 0.5 and tl.at(1.5).epoch == 130.5
    assert len(tl.gaps) == 1 and tl.gaps[0].epoch_after == 130.0


def test_missing_pts_stays_none() -> None:
    tl = Timeline()
    tl.place(frame(1600, None, 7.0))
    assert tl.at(0.05).pts is None


def sei_frame(n: int, pts: float, sei: float | None) -> PcmFrame:
    return PcmFrame(np.zeros(n, dtype=np.float32), pts, 1000.0 + pts, sei)


def test_sei_clock_is_carried_forward_and_read_back_to_the_stream_start() -> None:
    tl = Timeline(start_time=30.0)
    tl.place(sei_frame(1600, 0.0, None))  # audio decoded before the first SEI arrived
    tl.place(sei_frame(1600, 0.1, 5000.1))
    tl.place(sei_frame(1600, 0.2, 5000.2))
    assert tl.now == 30.3
    assert tl.at(30.0).sei_timestamp == 5000.0
    assert tl.at(30.25).sei_timestamp == 5000.25


def test_sei_clock_is_not_read_back_across_a_gap_or_from_far_ahead() -> None:
    tl = Timeline()
    tl.place(sei_frame(16000, 0.0, None))
    tl.publisher_left()
    tl.place(sei_frame(1600, 0.0, 9000.0))  # a new publisher, with SEI
    assert tl.at(0.5).sei_timestamp is None and tl.at(1.05).sei_timestamp == 9000.05
    far = Timeline()
    far.place(sei_frame(48000, 0.0, None))
    far.place(sei_frame(1600, 3.0, 7000.0))
    assert far.at(0.1).sei_timestamp is None
