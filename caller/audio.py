"""Audio pieces and sinks: mono 16-bit samples at espeak-ng's rate, played or written.

A sink gets one announcement at a time: ``begin(call_id)``, ``play(samples)`` for each
piece (chime, gap, speech, ...), ``end()``. ``play`` returns when the piece is out (the
speaker sink waits for it), so the announcer never overlaps two pieces.
"""

from __future__ import annotations

import array
import re
import threading
import time
import wave
from importlib import resources
from pathlib import Path
from typing import Protocol

from motcua.errors import HardwareError, MotcuaError, require

RATE = 22050                 # espeak-ng's rate; sounds/chime.wav is made at the same rate


def read_wav(path: Path) -> array.array:
    """A mono 16-bit WAV as samples at RATE."""
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise wave.Error(f"{path}: not mono 16-bit")
        samples = array.array("h", wav.readframes(wav.getnframes()))
        rate = wav.getframerate()
    return samples if rate == RATE else resampled(samples, rate)


def resampled(samples: array.array, rate: int) -> array.array:
    """``samples`` at ``rate`` brought to RATE; nearest-sample is enough for a chime or a voice."""
    return array.array("h", (samples[int(i * rate / RATE)]
                             for i in range(int(len(samples) * RATE / rate))))


def write_wav(path: Path, samples: array.array) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())


def chime(path: Path | None = None) -> array.array:
    """The chime: a WAV of the site's choice, or sounds/chime.wav (sounds/make_sounds.py)."""
    return read_wav(path or Path(str(resources.files("motcua.sounds") / "chime.wav")))


def silence(seconds: float) -> array.array:
    return array.array("h", bytes(2 * int(seconds * RATE)))


def scaled(samples: array.array, volume: float) -> array.array:
    if volume >= 1.0:
        return samples
    return array.array("h", (int(s * volume) for s in samples))


# -- sinks --------------------------------------------------------------------------

class Sink(Protocol):
    def begin(self, call_id: str) -> None: ...
    def play(self, samples: array.array) -> None: ...
    def end(self) -> None: ...
    def close(self) -> None: ...


class NoSink:
    """``none``: nothing is heard (a board-only office, or tests)."""

    def begin(self, call_id: str) -> None: ...
    def play(self, samples: array.array) -> None: ...
    def end(self) -> None: ...
    def close(self) -> None: ...


class WavSink:
    """``wav:DIR``: each announcement (chime, then speech) becomes one numbered WAV file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        # Numbers go on after the files already there, so a restart overwrites nothing.
        numbers = [int(p.name[:4]) for p in directory.glob("[0-9][0-9][0-9][0-9]-*.wav")]
        self.count = max(numbers, default=0)
        self.buffer = array.array("h")
        self.call_id = ""

    def begin(self, call_id: str) -> None:
        self.buffer = array.array("h")
        self.call_id = re.sub(r"[^A-Za-z0-9_.-]", "_", call_id)

    def play(self, samples: array.array) -> None:
        self.buffer.extend(samples)

    def end(self) -> None:
        self.count += 1
        path = self.directory / f"{self.count:04d}-{self.call_id}.wav"
        partial = path.with_suffix(".part")
        write_wav(partial, self.buffer)
        partial.rename(path)     # a reader never sees half a file

    def close(self) -> None: ...


class SpeakerSink:
    """The speakers, through pygame.mixer (SDL): each piece plays to its end."""

    def __init__(self) -> None:
        self.pygame = require("pygame", "caller", "python3-pygame")
        try:
            # allowedchanges=0: SDL converts to what the card wants; our buffers stay as they are
            self.pygame.mixer.init(frequency=RATE, size=-16, channels=1, allowedchanges=0)
        except self.pygame.error as exc:
            raise HardwareError(f"no speakers: {exc}") from exc
        self.done = threading.Event()   # never set: only its timed wait is used

    def begin(self, call_id: str) -> None: ...

    def play(self, samples: array.array) -> None:
        channel = self.pygame.mixer.Sound(buffer=samples.tobytes()).play()
        deadline = time.monotonic() + len(samples) / RATE + 2.0   # a stuck card cannot hang us
        while channel is not None and channel.get_busy() and time.monotonic() < deadline:
            self.done.wait(0.01)

    def end(self) -> None: ...

    def close(self) -> None:
        self.pygame.mixer.quit()


def check_audio_spec(audio: str) -> None:
    if audio not in ("speaker", "none") and not (audio.startswith("wav:") and len(audio) > 4):
        raise MotcuaError(f"--audio {audio!r}: use speaker, wav:DIR or none")


def open_sink(audio: str) -> Sink:
    """``speaker``, ``wav:DIR`` or ``none``."""
    check_audio_spec(audio)
    if audio == "none":
        return NoSink()
    if audio == "speaker":
        return SpeakerSink()
    return WavSink(Path(audio[4:]))
