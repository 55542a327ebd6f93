"""Checks of what was said against espeak-ng's own rendering of the same sentence."""

from __future__ import annotations

import array
import functools
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

RATE = 22050
LOUD = 200          # |sample| above this is sound; espeak-ng's silences are below 50
TOLERANCE = 0.03    # the 3 %


def samples_of(path: Path) -> array.array:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        return array.array("h", wav.readframes(wav.getnframes()))


@functools.lru_cache(maxsize=256)
def reference(sentence: str, rate: int, voice: str = "vi") -> array.array:
    """What ``espeak-ng -v <voice> -s <rate> -w ref.wav "<sentence>"`` writes, as samples."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ref.wav"
        subprocess.run(["/usr/bin/espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), sentence],
                       check=True, capture_output=True)
        return samples_of(path)


def speech_seconds(samples: array.array) -> float:
    """From the first to the last sample that is sound, in seconds (0 if none is)."""
    loud = [i for i, s in enumerate(samples) if abs(s) > LOUD]
    return (loud[-1] - loud[0] + 1) / RATE if loud else 0.0


def speech_after_chime(path: Path, bell: array.array) -> array.array:
    samples = samples_of(path)
    assert samples[: len(bell)] == bell, f"{path.name}: the chime comes first"
    return samples[len(bell):]


def said_whole(path: Path, bell: array.array, sentence: str, rate: int) -> str | None:
    """None if the speech after the chime lasts within 3 % of espeak-ng's own rendering;
    else what is wrong (a chime-only call has no speech at all)."""
    heard = speech_seconds(speech_after_chime(path, bell))
    expected = speech_seconds(reference(sentence, rate))
    assert expected > 1.0, "the reference rendering is speech"
    if abs(heard - expected) > TOLERANCE * expected:
        return f"{path.name}: {heard:.2f} s of speech, espeak-ng's own rendering {expected:.2f} s"
    return None


def eventually(predicate, timeout: float) -> None:
    """Waits until ``predicate()`` is true; AssertionError after ``timeout`` seconds."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        pause.wait(0.05)
    assert predicate(), f"not true within {timeout:.0f} s"
