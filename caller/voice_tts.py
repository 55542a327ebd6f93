"""Text to speech: pyttsx3 with espeak-ng's Vietnamese voice, in one thread of its own.

pyttsx3 engines must be created and used in a single thread (pyttsx3 #126, #327), so
:class:`SpeechWorker` owns the engine and everything else asks it for renders through
futures. A sentence is rendered when the call is queued, so it is ready while the
chime (or an earlier call) plays; renders are kept in memory, keyed by sentence, voice
and rate, because the same number is often called again (recall, repeat).
"""

from __future__ import annotations

import array
import atexit
import gc
import logging
import queue
import shutil
import tempfile
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from motcua.errors import MotcuaError, require

from .audio import read_wav
from .voice_settings import VoiceSettings

log = logging.getLogger(__name__)

CACHE_SIZE = 8               # recalls repeat a recent sentence; ~200 kB each, ~1.6 MB at most
WARM_UP = "một"              # rendered at start so a missing voice shows before the first call
ATTEMPTS = 3                 # a render cut short by a stale espeak-ng event is tried again

# One pyttsx3 engine per process, configured only when the voice or rate changes, and
# never let go: a collected engine's driver clears espeak-ng's process-wide synth
# callback, and reconfiguring between renders lets a stale "message terminated" event
# from espeak-ng's event thread end the next render before its first sample.
_SHARED: dict = {}


@atexit.register
def _let_go() -> None:
    # Collected while the interpreter still works; pyttsx3's __del__ fails at teardown.
    _SHARED.clear()
    gc.collect()


class SpeechError(MotcuaError):
    """Text-to-speech did not work."""


class Renderer(Protocol):
    def render(self, sentence: str) -> array.array: ...
    def close(self) -> None: ...


class PyttsxRenderer:
    """pyttsx3's espeak driver rendering to a WAV file; use it from one thread at a time."""

    def __init__(self, voice: VoiceSettings) -> None:
        pyttsx3 = require("pyttsx3", "caller", "python3-pyttsx3")
        if "engine" not in _SHARED:
            try:
                engine = pyttsx3.init("espeak")
                voices = {v.id for v in engine.getProperty("voices")}
            except Exception as exc:   # pyttsx3 raises what its driver raises (OSError, RuntimeError)
                raise SpeechError(f"espeak-ng could not start: {exc}") from exc
            _SHARED.update(engine=engine, voices=voices, config=None)
        self.engine = _SHARED["engine"]
        name = voice.voice.lower()        # pyttsx3 lowers espeak-ng's voice ids
        wanted = sorted(i for i in _SHARED["voices"] if i == name or i.endswith(f"/{name}"))
        if not wanted:
            raise SpeechError(f"espeak-ng has no voice {voice.voice!r} (apt install espeak-ng)")
        if _SHARED["config"] != (wanted[0], voice.rate):
            self.engine.setProperty("voice", wanted[0])
            self.engine.setProperty("rate", voice.rate)
            _SHARED["config"] = (wanted[0], voice.rate)
        self.errors: list[Exception] = []
        # The driver reports its failures as "error" notifications instead of raising.
        self.token = self.engine.connect("error", lambda exception, **_: self.errors.append(exception))
        self.workdir = Path(tempfile.mkdtemp(prefix="motcua-voice-"))

    def render(self, sentence: str) -> array.array:
        if not sentence.strip():
            # pyttsx3's espeak loop never ends for empty text
            raise SpeechError("nothing to say")
        path = self.workdir / "speech.wav"
        self.errors.clear()
        try:
            for _ in range(ATTEMPTS):
                path.unlink(missing_ok=True)
                self.engine.save_to_file(sentence, str(path))
                self.engine.runAndWait()
                if self.errors:
                    raise SpeechError(f"espeak-ng: {self.errors[0]}")
                samples = read_wav(path)
                if samples:
                    return samples
            raise SpeechError(f"espeak-ng gave no sound {ATTEMPTS} times")
        except (OSError, RuntimeError, wave.Error) as exc:
            raise SpeechError(f"speech was not rendered: {exc}") from exc

    def close(self) -> None:
        self.engine.disconnect(self.token)
        shutil.rmtree(self.workdir, ignore_errors=True)


class SpeechWorker:
    """The thread that owns the TTS engine: renders in the order asked, caches, reports state."""

    def __init__(self, voice: VoiceSettings, factory: Callable[[VoiceSettings], Renderer],
                 on_state: Callable[[str], None]) -> None:
        self.voice = voice
        self.factory = factory
        self.on_state = on_state
        self.requests: queue.Queue[tuple[str, Future] | None] = queue.Queue()
        self.cache: OrderedDict[tuple[str, str, int], array.array] = OrderedDict()
        self.renderer: Renderer | None = None
        self.rendered = 0
        self.thread = threading.Thread(target=self._run, name="voice-tts", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def request(self, sentence: str) -> Future:
        """The sentence's samples, soon; SpeechError if the voice does not work."""
        future: Future = Future()
        self.requests.put((sentence, future))
        return future

    def stop(self, timeout: float) -> None:
        self.requests.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self._speech(WARM_UP)
            self.on_state("ok")
        except MotcuaError as exc:
            self._failed(exc)
        while (item := self.requests.get()) is not None:
            sentence, future = item
            if not future.set_running_or_notify_cancel():
                continue           # the call was dropped before its turn
            try:
                future.set_result(self._speech(sentence))
                self.on_state("ok")
            except MotcuaError as exc:
                self._failed(exc)
                future.set_exception(exc)
        if self.renderer is not None:
            self.renderer.close()

    def _failed(self, exc: MotcuaError) -> None:
        log.error("no voice: %s", exc)
        if self.renderer is not None:
            self.renderer.close()
        self.renderer = None       # a fresh engine is tried for the next sentence
        self.on_state(f"error: {exc}")

    def _speech(self, sentence: str) -> array.array:
        key = (sentence, self.voice.voice, self.voice.rate)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        if self.renderer is None:
            self.renderer = self.factory(self.voice)
        samples = self.renderer.render(sentence)
        self.rendered += 1
        if not any(samples):
            raise SpeechError("the rendered speech is silent")
        self.cache[key] = samples
        if len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return samples
