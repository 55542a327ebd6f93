"""Makes the chime played before each call (no third-party recordings).

    python sounds/make_sounds.py        # writes sounds/chime.wav

A soft two-note "ding-dong" (E5 then C5, the notes of a doorbell), each note a sum of
a few harmonics with an exponential decay, 22,050 Hz mono 16-bit like espeak-ng's speech,
so chime and speech join into one WAV without resampling.
"""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

RATE = 22050
NOTES = ((659.25, 0.0), (523.25, 0.45))   # (frequency Hz, start s)
LENGTH_S = 1.4
HARMONICS = ((1.0, 1.0), (2.0, 0.35), (3.0, 0.12))
DECAY_S = 0.35
PEAK = 0.6


def chime_samples(rate: int = RATE) -> array.array:
    """The chime as signed 16-bit samples."""
    total = int(LENGTH_S * rate)
    mix = [0.0] * total
    for frequency, start in NOTES:
        offset = int(start * rate)
        for i in range(total - offset):
            t = i / rate
            envelope = math.exp(-t / DECAY_S) * min(1.0, t / 0.005)   # 5 ms attack, no click
            mix[offset + i] += envelope * sum(
                weight * math.sin(2 * math.pi * frequency * multiple * t)
                for multiple, weight in HARMONICS)
    peak = max(abs(v) for v in mix)
    return array.array("h", (int(v / peak * PEAK * 32767) for v in mix))


def write_wav(path: Path, samples: array.array, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "chime.wav"
    write_wav(target, chime_samples())
    print(f"wrote {target}")
