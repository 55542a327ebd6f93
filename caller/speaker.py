"""The caller's voice in its own process.

Rendering speech is Python and C work that holds the GIL for tens of milliseconds and
allocates large sample buffers. In the caller's process it delayed the owner thread's
publishes (a Next reached the board later) and grew the caller's memory in bursts; in a
child process it does neither. The child runs the same ``Announcer`` (voice.py); this
module only carries calls to it and its health back.

The child ignores SIGTERM and SIGINT: systemd signals the whole unit at stop, and the
call already queued should still be said — the parent ends the child by closing the
pipe (``stop``). If the parent dies, the child sees the pipe close and ends too.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

from motcua.daemon import setup_logging

from .audio import check_audio_spec
from .voice import Announcer
from .voice_settings import VoiceSettings

log = logging.getLogger(__name__)

# spawn, not fork: the caller has threads (paho's, the owner's) when the voice starts.
_CONTEXT = multiprocessing.get_context("spawn")


class SpeakerProcess:
    """``Announcer``'s interface (start, announce, stop, on_health), served by a child."""

    def __init__(self, voice: VoiceSettings, audio: str, *,
                 on_health: Callable[[dict], None] | None = None) -> None:
        check_audio_spec(audio)          # a wrong --audio fails here, not in the child
        self.voice = voice
        self.audio = audio
        self.on_health = on_health or (lambda health: None)
        self._lock = threading.Lock()
        self._stopping = False
        self.process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None
        self.restarts = 0

    def start(self) -> None:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(self.voice, self.audio, child),
                                   name="motcua-voice", daemon=True)
        process.start()
        child.close()
        self.process, self._pipe = process, parent
        threading.Thread(target=self._listen, args=(parent,), name="voice-health",
                         daemon=True).start()

    def announce(self, call_id: str, sentence: str) -> None:
        """Hand a call to the child; returns at once. A dead child is started again."""
        with self._lock:
            if self.process is None or not self.process.is_alive():
                self.restarts += 1
                log.error("the speech process ended (exit %s); starting it again",
                          self.process.exitcode if self.process else None)
                self.start()
            try:
                self._pipe.send((call_id, sentence))
            except (OSError, ValueError) as exc:
                log.error("call %s not handed to the speech process: %s", call_id, exc)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the child say what is queued (within max_delay_s), then end it."""
        with self._lock:
            self._stopping = True
            process, pipe = self.process, self._pipe
        if process is None or pipe is None:
            return
        with contextlib.suppress(OSError, ValueError):
            pipe.send(None)
        process.join(timeout)
        if process.is_alive():
            log.warning("the speech process did not end in %.0f s; terminating it", timeout)
            process.kill()
            process.join(2)
        pipe.close()

    def _listen(self, pipe: Connection) -> None:
        """Health from the child, handed on (the callback only enqueues)."""
        while True:
            try:
                health = pipe.recv()
            except (EOFError, OSError):
                break
            self.on_health(health)
        if not self._stopping and pipe is self._pipe:
            self.on_health({"voice": "error: the speech process ended"})


def _serve(voice: VoiceSettings, audio: str, pipe: Connection) -> None:
    """The child: one Announcer, fed from the pipe until the parent closes it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging("caller", "voice")
    send_lock = threading.Lock()

    def report(health: dict) -> None:
        # The parent may be gone; the loop below then ends on EOF.
        with send_lock, contextlib.suppress(OSError, ValueError):
            pipe.send(health)

    announcer = Announcer(voice, audio, on_health=report)
    announcer.start()
    try:
        while True:
            try:
                item = pipe.recv()
            except (EOFError, OSError):
                break
            if item is None:
                break
            announcer.announce(*item)
    finally:
        announcer.stop()
