"""MIDI → WAV with fluidsynth and the General MIDI soundfont, as the seed listened to its music.

fluidsynth renders offline (``-F``), much faster than real time, with the
FluidR3 GM soundfont from Debian's ``fluid-soundfont-gm``. Both are system
packages, so a machine may lack them: ``render`` then raises AudioUnavailable
and compose writes everything but the WAV.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pianoroll import PianorollError
from pianoroll.pages import create_temporary

SAMPLE_RATE = 44100
SOUNDFONTS = (  # the seed's font first; Debian's default-GM link points at it when installed
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
INSTALL = "apt-get install fluidsynth fluid-soundfont-gm"
RENDER_TIMEOUT_S = 600


class AudioUnavailable(PianorollError):
    """fluidsynth or the soundfont is not installed."""


class AudioError(PianorollError):
    """fluidsynth ran but gave no audio for a file."""


def synthesizer() -> tuple[str, Path]:
    """The fluidsynth program and the soundfont to play with; raises AudioUnavailable naming what to install."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise AudioUnavailable(f"fluidsynth: not installed, so no WAV files (install it: {INSTALL})")
    font = next((path for path in SOUNDFONTS if path.is_file()), None)
    if font is None:
        raise AudioUnavailable(f"{SOUNDFONTS[0]}: General MIDI soundfont missing, so no WAV files (install it: {INSTALL})")
    return program, font


def render(midi_path: Path, wav_path: Path) -> None:
    """Play a MIDI file into a 16-bit stereo WAV at SAMPLE_RATE; the WAV appears only once complete."""
    program, font = synthesizer()
    wav_path = Path(wav_path)
    fd, tmp = create_temporary(wav_path, suffix=".wav")  # fluidsynth picks the format from the suffix
    os.close(fd)
    try:
        done = subprocess.run(
            [program, "-ni", "-q", "-F", tmp, "-r", str(SAMPLE_RATE), str(font), str(midi_path)],
            capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
        said = "; ".join(line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip())
        if done.returncode != 0 or os.path.getsize(tmp) == 0 or "error" in said.lower():
            # fluidsynth exits 0 after "error: Doesn't look like a MIDI file", with a WAV of nothing
            raise AudioError(f"{midi_path}: fluidsynth gave no audio ({said[:300] or f'exit {done.returncode}'})")
        os.replace(tmp, wav_path)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{midi_path}: fluidsynth took longer than {RENDER_TIMEOUT_S} s") from None
    finally:
        tmp.unlink(missing_ok=True)
