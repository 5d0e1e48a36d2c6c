"""Fixtures shared by every test package: known test speech and its encoded forms.

The speech is synthesized once with piper and cached under ``tests/.cache/`` (see
``tests/speech.py``, importable in tests as ``speech``); later sessions reuse the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import speech

from captioncast.core.audio import Samples


@pytest.fixture(scope="session")
def speech_sample() -> speech.SpeechSample:
    """The test speech: ``wav_path``, ``text``, ``duration`` and timed ``sentences``."""
    return speech.speech_sample()


@pytest.fixture(scope="session")
def speech_audio(speech_sample: speech.SpeechSample) -> Samples:
    """The test speech as 16 kHz mono float32 samples (read-only: copy before changing)."""
    samples = speech_sample.samples()
    samples.flags.writeable = False
    return samples


@pytest.fixture(scope="session")
def speech_m4a(speech_sample: speech.SpeechSample) -> Path:
    """The test speech as AAC in M4A (needs ffmpeg)."""
    return speech.make_m4a(speech_sample)


@pytest.fixture(scope="session")
def speech_video_mp4(speech_sample: speech.SpeechSample) -> Path:
    """A test-pattern H.264 video with the test speech as AAC (needs ffmpeg)."""
    return speech.make_video_mp4(speech_sample)
