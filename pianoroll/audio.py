"""MIDI → WAV: fluidsynth with FluidR3 where Debian's packages are installed, else a renderer from pip.

fluidsynth renders offline (``-F``) with the FluidR3 GM soundfont from
Debian's ``fluid-soundfont-gm``: the fuller sound, as the seed listened to its
music. Both are system packages, so a machine may lack them; ``pip install``
alone must still give sound, so then ``midirenderer`` (a self-contained wheel,
a Rust synthesizer) plays the file with TimGM6mb, the small General MIDI
soundfont that ships inside the ``pretty_midi`` package (only the file is
read; pretty_midi is never imported). ``render`` returns the name of the
renderer it used, so every WAV can say what made it. Only when neither is there
does it raise AudioUnavailable, and compose writes everything but the WAV.

midirenderer, not tinysoundfont: both play a 13 s piece in under 0.1 s
(fluidsynth takes 0.3 s, most of it loading FluidR3), but tinysoundfont
depends on pyaudio, which pip can only build with PortAudio's system headers.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
from pathlib import Path

from pianoroll import PianorollError, midi
from pianoroll.files import create_temporary

SAMPLE_RATE = 48000  # midirenderer's only rate; fluidsynth is asked for the same, so every WAV is alike
SOUNDFONTS = (  # the seed's font first; Debian's default-GM link points at it when installed
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
INSTALL = "apt-get install fluidsynth fluid-soundfont-gm"
RENDER_TIMEOUT_S = 600

PIP_RENDERER = "midirenderer"
PIP_FONT_PACKAGE = "pretty_midi"  # ships TimGM6mb.sf2 (6 MB) beside its code
PIP_FONT = "TimGM6mb.sf2"
PIP_INSTALL = f"pip install {PIP_RENDERER} {PIP_FONT_PACKAGE}"
RELEASE_BEATS = 2.0  # midirenderer stops at the last event; this lets the last notes die away, as fluidsynth does
END_OF_TRACK = b"\xff\x2f\x00"
FORMAT_MULTI_SONG = 2  # independent sequences: no track may be added across them
SMPTE_DIVISION = 0x8000


class AudioUnavailable(PianorollError):
    """Neither fluidsynth with its soundfont nor the pip renderer is installed."""


class AudioError(PianorollError):
    """A renderer ran but gave no audio for a file."""


def synthesizer() -> tuple[str, Path]:
    """The fluidsynth program and the soundfont to play with; raises AudioUnavailable naming what to install."""
    problem = _fluidsynth_problem()
    if problem is not None:
        raise AudioUnavailable(f"{problem}, so no WAV files (install it: {INSTALL})")
    return shutil.which("fluidsynth"), next(path for path in SOUNDFONTS if path.is_file())


def _fluidsynth_problem() -> str | None:
    """What keeps fluidsynth from playing, as "subject: reason", or None when it can."""
    if shutil.which("fluidsynth") is None:
        return "fluidsynth: not installed"
    if not any(path.is_file() for path in SOUNDFONTS):
        return f"{SOUNDFONTS[0]}: General MIDI soundfont missing"
    return None


def pip_synthesizer() -> Path:
    """TimGM6mb.sf2 in pretty_midi's folder, once midirenderer is there to play it; raises AudioUnavailable."""
    if importlib.util.find_spec(PIP_RENDERER) is None:
        raise AudioUnavailable(f"{PIP_RENDERER}: not installed, so no WAV files (install it: {PIP_INSTALL})")
    package = importlib.util.find_spec(PIP_FONT_PACKAGE)  # finds the folder without running the package
    folders = package.submodule_search_locations or () if package else ()
    font = next((Path(folder) / PIP_FONT for folder in folders if (Path(folder) / PIP_FONT).is_file()), None)
    if font is None:
        raise AudioUnavailable(f"{PIP_FONT_PACKAGE}: {PIP_FONT} not found, so no WAV files (install it: {PIP_INSTALL})")
    return font


def render(midi_path: Path, wav_path: Path) -> str:
    """Play a MIDI file into a 16-bit stereo WAV at SAMPLE_RATE; returns the renderer's name.

    fluidsynth plays where installed, midirenderer otherwise; the WAV appears
    only once complete. AudioUnavailable when neither is installed.
    """
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    problem = _fluidsynth_problem()
    if problem is None:
        program, font = synthesizer()
        _render_fluidsynth(program, font, midi_path, wav_path)
        return f"fluidsynth {font.stem}"
    try:
        font = pip_synthesizer()
    except AudioUnavailable:
        raise AudioUnavailable(f"{problem}, so no WAV files (install it: {INSTALL}; or {PIP_INSTALL})") from None
    _render_pip(font, midi_path, wav_path)
    return f"{PIP_RENDERER} {font.stem}"


def _render_fluidsynth(program: str, font: Path, midi_path: Path, wav_path: Path) -> None:
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


def _render_pip(font: Path, midi_path: Path, wav_path: Path) -> None:
    try:
        import midirenderer
    except ImportError as error:  # found but not loadable, e.g. a wheel for another machine
        raise AudioUnavailable(f"{PIP_RENDERER}: cannot be loaded ({error}), so no WAV files") from None
    try:
        data = _with_release(midi_path.read_bytes(), midi_path)
        wav = midirenderer.render_wave_from(font.read_bytes(), data)
    except midi.MidiError as error:
        raise AudioError(f"{midi_path}: {PIP_RENDERER} gave no audio ({str(error).removeprefix(f'{midi_path}: ')})") from None
    except OSError as error:
        raise AudioError(f"{error.filename or midi_path}: cannot be read ({error.strerror or error})") from None
    except (RuntimeError, ValueError) as error:  # its own word for a file it cannot play
        raise AudioError(f"{midi_path}: {PIP_RENDERER} gave no audio ({error})") from None
    fd, tmp = create_temporary(wav_path, suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(wav)
        os.replace(tmp, wav_path)
    finally:
        tmp.unlink(missing_ok=True)


def _with_release(data: bytes, midi_path: Path) -> bytes:
    """The MIDI bytes plus one empty track that ends RELEASE_BEATS after the last note.

    midirenderer plays up to the last event of any track, so without it the
    final notes stop mid-sound, with a click. Raises MidiError for a file
    that cannot be read; multi-song and SMPTE files are left as they are.
    """
    notes = midi.read(midi_path, allow_empty=True)
    spans = midi.track_spans(data, midi_path)
    header_end = 8 + struct.unpack(">L", data[4:8])[0]
    form, tracks, division = struct.unpack(">HHH", data[8:14])
    if form == FORMAT_MULTI_SONG or division & SMPTE_DIVISION:
        return data
    end = round((max((note.end for note in notes), default=0.0) + RELEASE_BEATS) * division)
    events = _varlen(end) + END_OF_TRACK
    body = data[12 : spans[-1][1] if spans else header_end]  # the division, then every track as it was
    return data[:8] + struct.pack(">HH", 1, tracks + 1) + body + midi.TRACK + struct.pack(">L", len(events)) + events


def _varlen(value: int) -> bytes:
    """A MIDI variable-length quantity: seven bits a byte, high bit set on every byte but the last."""
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | value & 0x7F)
    return bytes(reversed(out))
