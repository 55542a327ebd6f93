"""Bench: rendering a call sentence through pyttsx3 vs the espeak-ng command (target <= 2x).

    .venv/bin/python bench/voice_render.py [--sentences 40]

Both render the same sentences (different numbers, so nothing is cached) to a WAV file
with the Vietnamese voice at the same rate, alternating, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time

from motcua.caller.voice import spoken_sentence
from motcua.caller.voice_settings import VoiceSettings
from motcua.caller.voice_tts import PyttsxRenderer

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=150, volume=1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=40)
    options = parser.parse_args()
    renderer = PyttsxRenderer(VOICE)
    renderer.render("một")                    # the engine starts once per process
    ours, command = [], []
    seconds_of_speech = []
    with tempfile.TemporaryDirectory() as out:
        for i in range(options.sentences):
            sentence = spoken_sentence(VOICE, number=str(1000 + 37 * i), counter_name="Quầy số 3",
                                       name=None)
            start = time.perf_counter()
            samples = renderer.render(sentence)
            ours.append(time.perf_counter() - start)
            seconds_of_speech.append(len(samples) / 22050)
            start = time.perf_counter()
            subprocess.run(["espeak-ng", "-v", "vi", "-s", str(VOICE.rate), "-w",
                            f"{out}/espeak.wav", sentence], check=True)
            command.append(time.perf_counter() - start)
    renderer.close()
    ours_ms = statistics.median(ours) * 1000
    command_ms = statistics.median(command) * 1000
    print(f"sentences: {options.sentences}, median speech length "
          f"{statistics.median(seconds_of_speech):.2f} s")
    print(f"  pyttsx3 render (save_to_file + runAndWait)  median {ours_ms:6.1f} ms"
          f"   max {max(ours) * 1000:6.1f} ms")
    print(f"  espeak-ng -v vi -w (a new process each)      median {command_ms:6.1f} ms"
          f"   max {max(command) * 1000:6.1f} ms")
    print(f"  ratio (median): {ours_ms / command_ms:.2f}x")


if __name__ == "__main__":
    main()
