"""Announcements: a chime, then the Vietnamese sentence, one call after another.

``Announcer.announce`` only queues (it is called from the caller's owner loop); one
thread of its own renders and plays, so calls from five counters pressing Next at
once are said in order, never over each other. The pyttsx3 engine is created and
used in that same thread only (pyttsx3 #126, #327). If speech fails, the chime
still plays and the failure shows in the caller's status (``voice``).
"""

from __future__ import annotations

import array
import logging
import queue
import tempfile
import threading
import time
import wave
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from motcua.errors import MotcuaError, require

from .vietnamese import read_label, read_text
from .voice_settings import VoiceSettings

log = logging.getLogger(__name__)

RATE = 22050                 # espeak-ng's rate; the chime is made at the same rate
GAP_S = 0.25                 # silence after the chime and between repeats
CACHE_SIZE = 64


def spoken_sentence(voice: VoiceSettings, *, number: str, counter_name: str,
                    name: str | None) -> str:
    """The exact words spoken for a call, numbers written out as they are read."""
    template = voice.template_with_name if name else voice.template
    return " ".join(template.format(
        number=read_label(number, voice.variant),
        counter=read_text(counter_name, voice.variant).lower(),
        name=name or "",
    ).split())


class Renderer(Protocol):
    def render(self, sentence: str) -> array.array: ...


class SpeechError(MotcuaError):
    """Text-to-speech did not work."""


class PyttsxRenderer:
    """pyttsx3 with espeak-ng's Vietnamese voice, rendering to WAV; one thread only."""

    def __init__(self, voice: VoiceSettings) -> None:
        pyttsx3 = require("pyttsx3", "caller", "python3-pyttsx3")
        try:
            self.engine = pyttsx3.init("espeak")
        except Exception as exc:   # pyttsx3 raises whatever its driver raises
            raise SpeechError(f"espeak-ng could not start: {exc}") from exc
        ids = {v.id for v in self.engine.getProperty("voices")}
        wanted = [i for i in ids if i == voice.voice or i.endswith(f"/{voice.voice}")]
        if not wanted:
            raise SpeechError(f"espeak-ng has no voice {voice.voice!r} (apt install espeak-ng)")
        self.engine.setProperty("voice", sorted(wanted)[0])
        self.engine.setProperty("rate", voice.rate)
        self.workdir = Path(tempfile.mkdtemp(prefix="motcua-voice-"))

    def render(self, sentence: str) -> array.array:
        path = self.workdir / "speech.wav"
        path.unlink(missing_ok=True)
        try:
            self.engine.save_to_file(sentence, str(path))
            self.engine.runAndWait()
            return read_wav(path)
        except (OSError, RuntimeError, wave.Error) as exc:
            raise SpeechError(f"speech was not rendered: {exc}") from exc


def read_wav(path: Path) -> array.array:
    """A mono 16-bit WAV as samples at RATE."""
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise wave.Error(f"{path}: not mono 16-bit")
        samples = array.array("h", wav.readframes(wav.getnframes()))
        rate = wav.getframerate()
    if rate != RATE:   # nearest-sample resampling is enough for a voice prompt
        samples = array.array("h", (samples[int(i * rate / RATE)]
                                    for i in range(int(len(samples) * RATE / rate))))
    return samples


def chime() -> array.array:
    return read_wav(Path(str(resources.files("motcua.sounds") / "chime.wav")))


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
    def begin(self, call_id: str) -> None: ...
    def play(self, samples: array.array) -> None: ...
    def end(self) -> None: ...
    def close(self) -> None: ...


class WavSink:
    """``wav:DIR``: each announcement (chime, then speech) becomes one numbered WAV file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = len(list(directory.glob("*.wav")))
        self.buffer = array.array("h")
        self.call_id = ""

    def begin(self, call_id: str) -> None:
        self.buffer = array.array("h")
        self.call_id = call_id

    def play(self, samples: array.array) -> None:
        self.buffer.extend(samples)

    def end(self) -> None:
        self.count += 1
        path = self.directory / f"{self.count:04d}-{self.call_id}.wav"
        partial = path.with_suffix(".part")
        with wave.open(str(partial), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(self.buffer.tobytes())
        partial.rename(path)     # a reader never sees half a file

    def close(self) -> None: ...


class SpeakerSink:
    """The speakers, through pygame.mixer (SDL): each piece plays to its end."""

    def __init__(self) -> None:
        self.pygame = require("pygame", "caller", "python3-pygame")
        self.pygame.mixer.init(frequency=RATE, size=-16, channels=1)

    def begin(self, call_id: str) -> None: ...

    def play(self, samples: array.array) -> None:
        channel = self.pygame.mixer.Sound(buffer=samples.tobytes()).play()
        done = threading.Event()
        while channel is not None and channel.get_busy():
            done.wait(0.02)

    def end(self) -> None: ...

    def close(self) -> None:
        self.pygame.mixer.quit()


def open_sink(audio: str) -> Sink:
    """``speaker``, ``wav:DIR`` or ``none``."""
    if audio == "none":
        return NoSink()
    if audio == "speaker":
        return SpeakerSink()
    if audio.startswith("wav:") and len(audio) > 4:
        return WavSink(Path(audio[4:]))
    raise MotcuaError(f"--audio {audio!r}: use speaker, wav:DIR or none")


# -- the announcer --------------------------------------------------------------------

@dataclass(frozen=True)
class _Call:
    call_id: str
    sentence: str
    queued_at: float


class Announcer:
    """Speaks calls in order in its own thread; ``announce`` returns at once."""

    def __init__(self, voice: VoiceSettings, audio: str, *,
                 on_health: Callable[[dict], None] | None = None,
                 renderer_factory: Callable[[VoiceSettings], Renderer] = PyttsxRenderer,
                 sink_factory: Callable[[str], Sink] = open_sink,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.voice = voice
        self.audio = audio
        self.on_health = on_health or (lambda health: None)
        self.renderer_factory = renderer_factory
        self.sink_factory = sink_factory
        self.clock = clock
        self.calls: queue.Queue[_Call | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self.cache: OrderedDict[str, array.array] = OrderedDict()
        self.spoken = 0
        self.dropped = 0
        self._state = ""

    def start(self) -> None:
        self.thread.start()

    def announce(self, call_id: str, sentence: str) -> None:
        self.calls.put(_Call(call_id, sentence, self.clock()))

    def stop(self, timeout: float = 10.0) -> None:
        """Say what is queued (within max_delay_s), then end the thread."""
        self.calls.put(None)
        self.thread.join(timeout)

    def _health(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.on_health({"voice": state})

    def _run(self) -> None:
        sink = self.sink_factory(self.audio)
        renderer: Renderer | None = None
        bell = scaled(chime(), self.voice.volume) if self.voice.chime else array.array("h")
        try:
            while (call := self.calls.get()) is not None:
                late = self.clock() - call.queued_at
                if late > self.voice.max_delay_s:
                    self.dropped += 1
                    log.warning("call %s dropped: %.0f s in the queue (max_delay_s %.0f)",
                                call.call_id, late, self.voice.max_delay_s)
                    continue
                sink.begin(call.call_id)
                sink.play(bell)          # the chime goes out before the speech is rendered
                try:
                    if renderer is None:
                        renderer = self.renderer_factory(self.voice)
                    speech = self._speech(renderer, call.sentence)
                    self._health("ok")
                except MotcuaError as exc:
                    renderer = None       # try a fresh engine next time
                    log.error("call %s: no voice, chime only: %s", call.call_id, exc)
                    self._health(f"error: {exc}")
                    speech = None
                if speech is not None:
                    for _ in range(self.voice.repeat):
                        sink.play(silence(GAP_S))
                        sink.play(speech)
                sink.end()
                self.spoken += 1
        finally:
            sink.close()

    def _speech(self, renderer: Renderer, sentence: str) -> array.array:
        if sentence in self.cache:
            self.cache.move_to_end(sentence)
            return self.cache[sentence]
        samples = scaled(renderer.render(sentence), self.voice.volume)
        if not any(samples):
            raise SpeechError("the rendered speech is silent")
        self.cache[sentence] = samples
        if len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return samples
