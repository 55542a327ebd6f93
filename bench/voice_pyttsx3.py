"""The renderer the caller used before (pyttsx3 2.99's espeak driver), kept for the benches.

Not used by motcua: its driver drops the samples of espeak-ng's last callback (pyttsx3
#334, #408; docs/voice.md). ``PyttsxRenderer`` is None when pyttsx3 is not installed.
"""

from __future__ import annotations

import array
import shutil
import tempfile
from pathlib import Path

from motcua.caller.audio import read_wav
from motcua.caller.voice_settings import VoiceSettings

try:
    import pyttsx3
except ImportError:          # no longer a dependency of motcua
    pyttsx3 = None

_SHARED: dict = {}           # one engine per process, as the old caller had


class _PyttsxRenderer:
    def __init__(self, voice: VoiceSettings) -> None:
        if "engine" not in _SHARED:
            engine = pyttsx3.init("espeak")
            _SHARED.update(engine=engine, voices={v.id for v in engine.getProperty("voices")})
        self.engine = _SHARED["engine"]
        name = voice.voice.lower()
        wanted = sorted(i for i in _SHARED["voices"] if i == name or i.endswith(f"/{name}"))
        self.engine.setProperty("voice", wanted[0])
        self.engine.setProperty("rate", voice.rate)
        self.workdir = Path(tempfile.mkdtemp(prefix="motcua-bench-voice-"))

    def render(self, sentence: str) -> array.array:
        path = self.workdir / "speech.wav"
        for _ in range(3):       # the old renderer's retries
            path.unlink(missing_ok=True)
            self.engine.save_to_file(sentence, str(path))
            self.engine.runAndWait()
            try:
                samples = read_wav(path)
            except (OSError, EOFError):
                continue
            if samples:
                return samples
        raise RuntimeError("pyttsx3 gave no sound 3 times")

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


PyttsxRenderer = _PyttsxRenderer if pyttsx3 is not None else None


if __name__ == "__main__":     # `make bench` runs every script: say what the others will compare
    print("pyttsx3", "is installed: bench/voice_render.py and voice_latency.py compare it"
          if pyttsx3 else "is not installed: only espeak-ng is measured")
