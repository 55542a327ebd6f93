"""Text to speech: the ``espeak-ng`` program, one run per sentence, its WAV read from a pipe.

Why not pyttsx3 (used before): pyttsx3 2.99's espeak driver writes its WAV file when
espeak-ng reports the end of the message and drops the samples that came in that same
callback (pyttsx3 #334, #408), so under load a process cut the last ~1.2 s of every call,
and its first render in a process always failed. Running ``espeak-ng --stdout`` gives the
synthesizer's own output, byte for byte what ``espeak-ng -w`` writes: no temporary file to
race on, no callbacks, and a render is complete only if the program exited 0 after writing
a well-formed WAV. A hung synthesizer is killed after ``PROCESS_TIMEOUT_S``; a crash is an
exit status, not a dead thread. The same Debian package (``espeak-ng``) runs on a Pi.

:class:`SpeechWorker` is the one thread that renders: sentences in the order asked, each
tried twice, cached by sentence, voice and rate (a recall says a recent sentence again).
"""

from __future__ import annotations

import array
import logging
import queue
import struct
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from motcua.errors import MotcuaError

from .audio import RATE, resampled
from .voice_settings import VoiceSettings

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
PROCESS_TIMEOUT_S = 8.0      # ~20 ms here, far more on a starved Pi; then killed as hung
ATTEMPTS = 2                 # a failed render is tried once more with a fresh renderer
CACHE_SIZE = 8               # recalls repeat a recent sentence; ~200 kB each, ~1.6 MB at most
WARM_UP = "Mời công dân có số thứ tự một"   # checked at start, never played
WARM_UP_ATTEMPTS = 5
WARM_UP_RETRY_S = 0.5
STREAMED = 0x7FFFF000        # espeak-ng's data size in a WAV header it cannot seek back to


class SpeechError(MotcuaError):
    """Text-to-speech did not work."""


class Renderer(Protocol):
    def render(self, sentence: str) -> array.array: ...
    def close(self) -> None: ...


def wav_samples(data: bytes) -> array.array:
    """The samples of espeak-ng's WAV (mono 16-bit PCM), checked whole; SpeechError if not."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError(f"espeak-ng wrote no WAV ({len(data)} bytes)")
    offset, rate = 12, None
    while offset + 8 <= len(data):
        kind, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if kind == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise SpeechError("espeak-ng's WAV header is cut short")
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise SpeechError(f"espeak-ng's WAV is not mono 16-bit PCM ({fmt}, {channels}, {bits})")
        elif kind == b"data":
            if rate is None:
                raise SpeechError("espeak-ng's WAV has no format before its samples")
            pcm = data[body:]
            # Written to a pipe, the header cannot say the size; the exit status says it ended.
            if (size != STREAMED and size != len(pcm)) or len(pcm) % 2:
                raise SpeechError(f"espeak-ng's WAV is cut short ({len(pcm)} of {size} bytes)")
            samples = array.array("h", pcm)
            return samples if rate == RATE else resampled(samples, rate)
        offset = body + size + (size & 1)
    raise SpeechError("espeak-ng's WAV has no samples")


class EspeakRenderer:
    """One ``espeak-ng --stdout`` run per sentence; thread-safe (it keeps no state)."""

    def __init__(self, voice: VoiceSettings, *, program: str = PROGRAM,
                 timeout: float | None = None) -> None:
        self.program = program
        self.voice = voice.voice
        self.timeout = PROCESS_TIMEOUT_S if timeout is None else timeout
        # -b 1: the text is UTF-8 whatever the service's locale; --: a sentence is never an option
        self.command = [program, "-v", voice.voice, "-s", str(voice.rate), "-b", "1", "--stdout", "--"]

    def render(self, sentence: str) -> array.array:
        if not sentence.strip():
            raise SpeechError("nothing to say")
        try:
            done = subprocess.run([*self.command, sentence], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise SpeechError(f"espeak-ng hung: killed after {self.timeout:g} s") from None
        except FileNotFoundError:
            raise SpeechError(f"{self.program} is not installed (apt install espeak-ng)") from None
        except OSError as exc:
            raise SpeechError(f"espeak-ng could not run: {exc}") from exc
        if done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpeechError(f"espeak-ng -v {self.voice} failed (exit {done.returncode})"
                              + (f": {why[-1]}" if why else ""))
        return wav_samples(done.stdout)

    def close(self) -> None: ...


class SpeechWorker:
    """The thread that renders: in the order asked, cached; never ends on a failure.

    ``on_result(None)`` after a render that worked, ``on_result(exc)`` after each one that
    failed (the announcer counts them). ``ready`` is set once the warm-up is done: it
    worked, or failed ``WARM_UP_ATTEMPTS`` times.
    """

    def __init__(self, voice: VoiceSettings, factory: Callable[[VoiceSettings], Renderer],
                 on_result: Callable[[Exception | None], None]) -> None:
        self.voice = voice
        self.factory = factory
        self.on_result = on_result
        self.requests: queue.Queue[tuple[str, Future] | None] = queue.Queue()
        self.cache: OrderedDict[tuple[str, str, int], array.array] = OrderedDict()
        self.renderer: Renderer | None = None
        self.rendered = 0
        self.ready = threading.Event()
        self._pause = threading.Event()     # never set: only its timed wait is used
        self.thread = threading.Thread(target=self._run, name="voice-tts", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def request(self, sentence: str) -> Future:
        """The sentence's samples, soon; an exception if the voice does not work."""
        future: Future = Future()
        self.requests.put((sentence, future))
        return future

    def stop(self, timeout: float) -> None:
        self.requests.put(None)
        if self.thread.ident is not None:      # never started with the none sink
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self._warm_up()
            while (item := self.requests.get()) is not None:
                sentence, future = item
                if not future.set_running_or_notify_cancel():
                    continue           # the call was dropped before its turn
                try:
                    future.set_result(self._speech(sentence, attempts=ATTEMPTS))
                except Exception as exc:   # the future carries it to the player
                    future.set_exception(exc)
        finally:
            self.ready.set()
            self._drop_renderer()

    def _warm_up(self) -> None:
        """A first render, so a missing voice shows at start; retried, never played."""
        for attempt in range(1, WARM_UP_ATTEMPTS + 1):
            try:
                self._speech(WARM_UP, attempts=1, keep=False)
                break
            except Exception:          # counted and logged in _speech
                if attempt < WARM_UP_ATTEMPTS:
                    self._pause.wait(WARM_UP_RETRY_S)
        self.ready.set()

    def _speech(self, sentence: str, *, attempts: int, keep: bool = True) -> array.array:
        key = (sentence, self.voice.voice, self.voice.rate)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        for attempt in range(1, attempts + 1):
            try:
                if self.renderer is None:
                    self.renderer = self.factory(self.voice)
                samples = self.renderer.render(sentence)
                if not any(samples):
                    raise SpeechError("the rendered speech is silent")
            except Exception as exc:   # EOFError, wave.Error, OSError, ...: all of them
                log.error("speech not rendered (attempt %d of %d): %s: %s", attempt, attempts,
                          type(exc).__name__, exc)
                self._drop_renderer()   # the next attempt starts a fresh renderer
                self.on_result(exc)
                if attempt == attempts:
                    raise
                continue
            self.rendered += 1
            self.on_result(None)
            if keep:
                self.cache[key] = samples
                if len(self.cache) > CACHE_SIZE:
                    self.cache.popitem(last=False)
            return samples
        raise AssertionError("unreachable")

    def _drop_renderer(self) -> None:
        if self.renderer is not None:
            try:
                self.renderer.close()
            except Exception:          # a renderer that fails to close is dropped anyway
                log.exception("closing the speech renderer failed")
        self.renderer = None
