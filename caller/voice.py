"""Announcements: a chime, then the Vietnamese sentence, one call after another.

``Announcer.announce`` only queues (it is called from the caller's owner loop); the
speech thread (voice_tts.py) renders the first calls in the queue ahead of their turn.
The player thread says calls in the order they came, never two at a time: it hands the
chime to the sink while the speech may still be rendering, then the speech ``repeat``
times. A call that waited longer than ``max_delay_s`` is dropped with a log line.

Nothing here ends a thread: a render that fails (any exception) or hangs, or a sink that
fails, costs at most that call its words (the chime still plays), is logged and counted:
``on_health({"voice": "ok" | "error: ...", "voice_failures": n})``, and the next call is
rendered afresh. With the ``none`` sink nothing is rendered at all.
"""

from __future__ import annotations

import array
import datetime as dt
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from motcua.errors import MotcuaError

from .audio import NoSink, Sink, check_audio_spec, chime, open_sink, scaled, silence
from .vietnamese import read_label, read_text
from .voice_settings import VoiceSettings
from .voice_tts import EspeakRenderer, Renderer, SpeechWorker

log = logging.getLogger(__name__)

GAP_S = 0.25                 # silence after the chime and between repeats
RENDER_TIMEOUT_S = 20.0      # > 2 renders killed as hung (voice_tts); then the words are lost, not the queue
LOOKAHEAD = 2                # calls rendered ahead: ready in time, memory bounded in a burst


def spoken_sentence(voice: VoiceSettings, *, number: str, counter_name: str,
                    name: str | None) -> str:
    """The exact words spoken for a call, numbers written out as they are read."""
    template = voice.template_with_name if name else voice.template
    counter = read_text(counter_name.strip(), voice.variant)
    if not template.startswith("{counter}"):
        counter = counter[:1].lower() + counter[1:]     # "đến Quầy số ba" -> "đến quầy số ba"
    words = template.format(
        number=read_label(number, voice.variant, digit_by_digit=voice.digit_by_digit),
        counter=counter,
        name=(name or "").strip(),
    )
    return " ".join(read_text(words, voice.variant).split())


@dataclass
class _Call:
    call_id: str
    sentence: str
    queued_at: float
    speech: Future | None = None


class Announcer:
    """Speaks calls in order from its own threads; ``announce`` returns at once.

    ``audio`` is ``speaker``, ``wav:DIR`` or ``none``. The renderer and sink factories,
    the clock, the time of day and the chime can be replaced (tests, bench).
    """

    def __init__(self, voice: VoiceSettings, audio: str, *,
                 on_health: Callable[[dict], None] | None = None,
                 renderer_factory: Callable[[VoiceSettings], Renderer] = EspeakRenderer,
                 sink_factory: Callable[[str], Sink] = open_sink,
                 clock: Callable[[], float] = time.monotonic,
                 time_of_day: Callable[[], dt.time] = lambda: dt.datetime.now().time(),
                 chime_samples: array.array | None = None) -> None:
        check_audio_spec(audio)
        self.voice = voice
        self.audio = audio
        self.on_health = on_health or (lambda health: None)
        self.sink_factory = sink_factory
        self.clock = clock
        self.time_of_day = time_of_day
        bell = chime() if chime_samples is None else chime_samples
        self.bell = bell if voice.chime else array.array("h")
        self._bells: dict[float, array.array] = {}
        self._pending: deque[_Call] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self.speech = SpeechWorker(voice, renderer_factory, self._speech_result)
        self.thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self.spoken = 0
        self.dropped = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._health: tuple[str, int] = ("", 0)
        self._state = ""
        self._sink_error = ""
        self.sink: Sink = NoSink()
        self.silent = False          # the none sink: nothing is rendered

    def start(self) -> None:
        try:
            self.sink = self.sink_factory(self.audio)
        except MotcuaError as exc:
            # The board must keep working without speakers; the status says what is wrong.
            log.error("no sound: %s", exc)
            self._sink_error = f"error: {exc}"
            self._report(self._sink_error)
        self.silent = isinstance(self.sink, NoSink)
        if self.silent:
            self.speech.ready.set()
            if not self._sink_error:
                self._report("off")
        else:
            self.speech.start()
        self.thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """True once the warm-up render is done (worked, or failed every retry)."""
        return self.speech.ready.wait(timeout)

    def announce(self, call_id: str, sentence: str) -> None:
        """Queue a call (thread-safe); returns at once."""
        with self._wake:
            self._pending.append(_Call(call_id, sentence, self.clock()))
            self._render_ahead()
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Say what is queued (within max_delay_s), then end the threads."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.thread.join(timeout)
        self.speech.stop(timeout)

    def _render_ahead(self) -> None:
        if self.silent:
            return
        for call in itertools.islice(self._pending, LOOKAHEAD):
            if call.speech is None:
                call.speech = self.speech.request(call.sentence)

    def _next(self) -> _Call | None:
        """The next call in the queue, once there is one; None when stopping and empty."""
        with self._wake:
            while not self._pending and not self._stopping:
                self._wake.wait()
            if not self._pending:
                return None
            call = self._pending.popleft()
            self._render_ahead()
            return call

    # -- health --------------------------------------------------------------------
    def _speech_result(self, failure: Exception | None) -> None:
        if failure is None:
            self._report(self._sink_error or "ok")
        else:
            self._failed(f"error: {failure}" if isinstance(failure, MotcuaError)
                         else f"error: {type(failure).__name__}: {failure}")

    def _failed(self, state: str) -> None:
        with self._lock:
            self.failures += 1
        self._report(self._sink_error or state)

    def _report(self, state: str) -> None:
        with self._lock:
            health = (state, self.failures)
            if health == self._health:
                return
            self._health = health
        self.on_health({"voice": state, "voice_failures": health[1]})

    # -- the player thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            while (call := self._next()) is not None:
                late = self.clock() - call.queued_at
                if late > self.voice.max_delay_s:
                    if call.speech is not None:
                        call.speech.cancel()   # not rendered if its turn has not come yet
                    self.dropped += 1
                    log.warning("call %s dropped: %.0f s in the queue (max_delay_s %.0f)",
                                call.call_id, late, self.voice.max_delay_s)
                    continue
                try:
                    self._say(call)
                except Exception as exc:   # a full disk or a lost sound card must not end the thread
                    log.exception("call %s: sound failed", call.call_id)
                    self._failed(f"error: sound: {exc}")
        finally:
            self.sink.close()

    def _say(self, call: _Call) -> None:
        volume = self.voice.volume_at(self.time_of_day())
        self.sink.begin(call.call_id)
        if self.bell:
            self.sink.play(self._bell(volume))     # out while the speech is still rendering
        speech = None
        if not self.silent:
            try:
                rendered = call.speech or self.speech.request(call.sentence)
                speech = scaled(rendered.result(timeout=RENDER_TIMEOUT_S), volume)
            except FutureTimeout:
                log.error("call %s: speech not rendered in %.0f s, chime only", call.call_id,
                          RENDER_TIMEOUT_S)
                self._failed("error: speech rendering hangs")
            except Exception as exc:   # any failure of the render; counted by the speech thread
                log.error("call %s: chime only: %s: %s", call.call_id, type(exc).__name__, exc)
        if speech is not None:
            for _ in range(self.voice.repeat):
                self.sink.play(silence(GAP_S))
                self.sink.play(speech)
        self.sink.end()
        self.spoken += 1

    def _bell(self, volume: float) -> array.array:
        if volume not in self._bells:
            self._bells[volume] = scaled(self.bell, volume)
        return self._bells[volume]
