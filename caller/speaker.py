"""The caller's voice in its own process.

Rendering speech is Python and C work that holds the GIL for tens of milliseconds and
allocates large sample buffers. In the caller's process it delayed the owner thread's
publishes (a Next reached the board later) and grew the caller's memory in bursts; in a
child process it does neither. The child (``python -m motcua.caller.speaker``) runs the
same ``Announcer`` (voice.py); this module only carries calls to it (pickles on its
stdin) and its health back (pickles on a pipe of its own: espeak-ng prints to stdout).
Plain subprocess rather than multiprocessing: no resource-tracker process (13 MB) beside it.

``start`` returns once the child's warm-up render is done (it is retried there), so the
caller reports ready with a voice that works, or with its error in the status. A child
that dies is counted in ``voice_failures`` with the failures the child itself reported
(the count goes on across children) and started again at the next call. With
``--audio none`` there is no child: nothing is rendered.

Calls reach the child through ``voice-feed``, a thread of the parent: the child reads none
while it warms up (after a restart, up to READY_TIMEOUT_S), and a pipe holds 64 KiB, so a
write on the owner's thread could block it and silence the watchdog. The feed's queue is
bounded (PENDING_MAX calls, minutes of a busy office); past that the oldest waiting call is
dropped with a log line: it was called long ago and is on the board, and the newest is the one
a citizen is listening for.

The child ignores SIGTERM and SIGINT: systemd signals the whole unit at stop, and the
call already queued should still be said — the parent ends the child by closing the
pipe (``stop``). If the parent dies, the child sees the pipe close and ends too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import IO

from motcua.daemon import setup_logging

from .audio import check_audio_spec
from .voice import Announcer
from .voice_settings import VoiceSettings

log = logging.getLogger(__name__)

NICENESS = 10
READY_TIMEOUT_S = 30.0       # the warm-up with its retries takes < 3 s even when it fails
READY = "ready"              # the child's message once its warm-up is done
PENDING_MAX = 500            # calls waiting for the child; a busy office makes a few a minute


class SpeakerProcess:
    """``Announcer``'s interface (start, announce, stop, on_health), served by a child."""

    def __init__(self, voice: VoiceSettings, audio: str, *,
                 on_health: Callable[[dict], None] | None = None,
                 pending_max: int = PENDING_MAX) -> None:
        check_audio_spec(audio)          # a wrong --audio fails here, not in the child
        self.voice = voice
        self.audio = audio
        self.on_health = on_health or (lambda health: None)
        self._lock = threading.Lock()
        self._stopping = False
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.deaths = 0                          # children that ended unasked
        self._reported: dict[int, int] = {}      # child number -> failures it reported
        self._children = 0
        # Calls not yet written to the child; voice-feed writes them (it may block, the owner not).
        self._pending: deque[tuple[str, str]] = deque()
        self._pending_max = pending_max
        self._feed = threading.Condition()
        self._feed_closing = False
        self._feeder: threading.Thread | None = None
        self.dropped = 0                         # calls dropped because the child read none

    def start(self) -> None:
        """Start the child and wait (READY_TIMEOUT_S at most) for its warm-up render."""
        if self.audio == "none":
            self.on_health({"voice": "off", "voice_failures": 0})
            return
        with self._lock:
            self._start_feed()
        if not self._spawn().wait(READY_TIMEOUT_S):
            log.warning("the speech process did not warm up in %.0f s", READY_TIMEOUT_S)

    def _start_feed(self) -> None:
        if self._feeder is None:
            self._feeder = threading.Thread(target=self._feed_child, name="voice-feed", daemon=True)
            self._feeder.start()

    def _spawn(self) -> threading.Event:
        health_read, health_write = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-m", "motcua.caller.speaker", str(health_write)],
            # the journal gets the child's log (stderr); its stdout carries nothing
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(health_write,),
            start_new_session=False)
        os.close(health_write)
        assert process.stdin is not None       # stdin=PIPE
        pickle.dump((self.voice, self.audio), process.stdin)
        process.stdin.flush()
        self.process = process
        self._children += 1
        ready = threading.Event()
        threading.Thread(target=self._listen,
                         args=(process, self._children, os.fdopen(health_read, "rb"), ready),
                         name="voice-health", daemon=True).start()
        return ready

    def announce(self, call_id: str, sentence: str) -> None:
        """Hand a call to the child; returns at once, never waits for the child. A dead
        child is started again."""
        if self.audio == "none":
            return
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                self.restarts += 1
                log.error("the speech process ended (exit %s); starting it again",
                          self.process.returncode if self.process else None)
                self._spawn()      # not waited for: the call queues behind its warm-up
            self._start_feed()
        with self._feed:
            if len(self._pending) >= self._pending_max:
                dropped, _ = self._pending.popleft()
                self.dropped += 1
                log.error("call %s dropped before it was said: %d calls wait for the speech "
                          "process, which reads none", dropped, len(self._pending))
            self._pending.append((call_id, sentence))
            self._feed.notify()

    def _feed_child(self) -> None:
        """voice-feed: writes the waiting calls to the current child, oldest first."""
        while True:
            with self._feed:
                while not self._pending and not self._feed_closing:
                    self._feed.wait()
                if not self._pending:
                    return
                call_id, sentence = self._pending.popleft()
            with self._lock:
                process = self.process
            try:
                assert process is not None and process.stdin is not None
                pickle.dump((call_id, sentence), process.stdin)
                process.stdin.flush()
            except (OSError, ValueError) as exc:
                log.error("call %s not handed to the speech process: %s", call_id, exc)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the child say what is queued (within max_delay_s), then end it."""
        with self._lock:
            self._stopping = True
            process = self.process
        with self._feed:
            self._feed_closing = True
            self._feed.notify()
        if process is None:
            return
        if self._feeder is not None:
            self._feeder.join(timeout)     # what waits is written; the child reads it
            if self._feeder.is_alive():
                log.warning("the speech process read no call in %.0f s; killing it", timeout)
                process.kill()             # the feed's write fails and it ends
                process.wait(2)
                self._feeder.join(2)
                return
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()      # end of calls: the child finishes and exits
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the speech process did not end in %.0f s; killing it", timeout)
            process.kill()
            process.wait(2)

    def close(self) -> None:
        """The daemon frame's release: ``stop``."""
        self.stop()

    def _listen(self, process: subprocess.Popen, child: int, health: IO[bytes],
                ready: threading.Event) -> None:
        """Health from the child, handed on (the callback only enqueues)."""
        with health:
            while True:
                try:
                    message = pickle.load(health)
                except (EOFError, OSError, pickle.UnpicklingError):
                    break
                if message == READY:
                    ready.set()
                    continue
                if isinstance(message, dict):
                    if "voice_failures" in message:
                        with self._lock:
                            self._reported[child] = int(message["voice_failures"])
                            message = {**message, "voice_failures": self._failures()}
                    self.on_health(message)
        ready.set()
        with self._lock:
            if self._stopping:
                return
            self.deaths += 1
            failures = self._failures()
            current = process is self.process
        log.error("the speech process ended (exit %s)", process.poll())
        ended: dict[str, object] = {"voice_failures": failures}
        if current:
            ended["voice"] = "error: the speech process ended"
        self.on_health(ended)

    def _failures(self) -> int:
        return self.deaths + sum(self._reported.values())


def _serve(calls: IO[bytes], health: IO[bytes]) -> None:
    """The child: one Announcer, fed from stdin until the parent closes it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Rendering runs ahead of playback by seconds; the caller's replies are due in a
    # millisecond. On a 2-4 core Pi the scheduler should prefer the caller.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    setup_logging("caller", "voice")
    voice, audio = pickle.load(calls)
    send_lock = threading.Lock()

    def report(state: dict | str) -> None:
        # The parent may be gone; the loop below then ends on EOF.
        with send_lock, contextlib.suppress(OSError, ValueError):
            pickle.dump(state, health)
            health.flush()

    announcer = Announcer(voice, audio, on_health=report)
    announcer.start()
    try:
        # The parent waits for this before it sends a call (or, after a restart, its calls
        # wait in the pipe): reading them meanwhile would only queue them sooner.
        announcer.wait_ready(READY_TIMEOUT_S)
        report(READY)
        while True:
            try:
                call_id, sentence = pickle.load(calls)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            announcer.announce(call_id, sentence)
    finally:
        announcer.stop()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, os.fdopen(int(sys.argv[1]), "wb"))
