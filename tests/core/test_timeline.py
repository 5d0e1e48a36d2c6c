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
