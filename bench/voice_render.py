"""Bench: CPU time and wall time per rendered call, espeak-ng (ours) vs pyttsx3 (before).

    .venv/bin/python bench/voice_render.py [--sentences 40]

Both render the same sentences (different numbers, nothing cached) with the Vietnamese
voice at the same rate, alternating. CPU time counts this process and its children (the
espeak-ng runs), user + system. Also checks each render against the synthesizer's own
output (``espeak-ng -w``): how many came out shorter.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from motcua.caller.audio import read_wav
from motcua.caller.voice import spoken_sentence
from motcua.caller.voice_settings import VoiceSettings
from motcua.caller.voice_tts import EspeakRenderer

sys.path.insert(0, str(Path(__file__).parent))
from voice_pyttsx3 import PyttsxRenderer

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=150, volume=1.0)


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=40)
    options = parser.parse_args()
    renderers = {"espeak-ng --stdout (ours)": EspeakRenderer(VOICE)}
    if PyttsxRenderer is None:
        print("pyttsx3 is not installed: the old renderer is not measured")
    else:
        renderers["pyttsx3 2.99 save_to_file (before)"] = PyttsxRenderer(VOICE)
    for renderer in renderers.values():
        with contextlib.redirect_stdout(io.StringIO()):
            renderer.render("một")                   # started once per process
    walls: dict[str, list[float]] = {name: [] for name in renderers}
    cpus: dict[str, float] = dict.fromkeys(renderers, 0.0)
    short: dict[str, int] = dict.fromkeys(renderers, 0)
    with tempfile.TemporaryDirectory() as out:
        for i in range(options.sentences):
            sentence = spoken_sentence(VOICE, number=str(1000 + 37 * i), counter_name="Quầy số 3",
                                       name=None)
            subprocess.run(["espeak-ng", "-v", "vi", "-s", str(VOICE.rate), "-w", f"{out}/ref.wav",
                            sentence], check=True)
            expected = len(read_wav(Path(f"{out}/ref.wav")))
            for name, renderer in renderers.items():
                wall, used = time.perf_counter(), cpu()
                with contextlib.redirect_stdout(io.StringIO()):    # pyttsx3 prints a line
                    samples = renderer.render(sentence)
                cpus[name] += cpu() - used
                walls[name].append(time.perf_counter() - wall)
                short[name] += len(samples) < expected * 0.97
    print(f"{options.sentences} sentences of ~{expected / 22050:.1f} s, voice vi, rate {VOICE.rate}")
    for name in renderers:
        print(f"  {name:<36} wall median {statistics.median(walls[name]) * 1000:6.1f} ms"
              f"  max {max(walls[name]) * 1000:6.1f} ms"
              f"  CPU {cpus[name] / options.sentences * 1000:6.1f} ms/call"
              f"  shorter than espeak-ng's own: {short[name]}")
    for renderer in renderers.values():
        renderer.close()


if __name__ == "__main__":
    main()
