"""audio: both renderers give real sound, say when they cannot, and never leave half a WAV.

fluidsynth is tested where installed (always in CI); the pip renderer is tested
everywhere, with fluidsynth hidden from PATH as on a machine without Debian's packages.
"""

from __future__ import annotations

import sys
import wave

import numpy as np
import pytest

from pianoroll import audio, midi
from pianoroll.roll import Note

C_MAJOR = [Note(60, 0.0, 2.0), Note(64, 0.0, 2.0), Note(67, 0.0, 2.0), Note(72, 2.0, 4.0, velocity=110)]
HEARD_RMS = 300  # 16-bit RMS of the chord's first second: FluidR3 gives about 380, TimGM6mb 590, silence 0
FADED = 0.05  # the last 10 ms of a piece, as a fraction of the chord's loudness: the notes have died away
RENDERERS = ("fluidsynth", "midirenderer")


def samples(path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as sound:
        data = np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2")
        return data.reshape(-1, sound.getnchannels()), sound.getframerate(), sound.getsampwidth()


def rms(data: np.ndarray) -> float:
    return float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))


def hide_fluidsynth(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))


@pytest.fixture(params=RENDERERS)
def renderer(request, require_program, monkeypatch, tmp_path) -> str:
    """Each renderer in turn: fluidsynth where installed, midirenderer with fluidsynth hidden."""
    if request.param == "fluidsynth":
        require_program("fluidsynth", f"for the better sound ({audio.INSTALL})", needs=audio.SOUNDFONTS)
    else:
        hide_fluidsynth(monkeypatch, tmp_path)
    return request.param


def test_a_chord_sounds(renderer, tmp_path):
    midi.write(C_MAJOR, tmp_path / "chord.mid", bpm=120)
    name = audio.render(tmp_path / "chord.mid", tmp_path / "chord.wav")
    assert name in {"fluidsynth": ("fluidsynth FluidR3_GM", "fluidsynth default-GM"),
                    "midirenderer": ("midirenderer TimGM6mb",)}[renderer]
    data, rate, width = samples(tmp_path / "chord.wav")
    assert (rate, width, data.shape[1]) == (audio.SAMPLE_RATE, 2, 2)
    assert len(data) >= 2 * rate, "four beats at 120 bpm last two seconds"
    assert rms(data[:rate]) > HEARD_RMS, "the chord should be heard, not silence"
    assert rms(data[-rate // 100:]) < FADED * rms(data[:rate]), "the last note dies away, no click at the end"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chord.mid", "chord.wav"]


def test_a_broken_file_gives_one_line_and_no_wav(renderer, tmp_path):
    (tmp_path / "noise.mid").write_bytes(b"MThd" + bytes(50))
    with pytest.raises(audio.AudioError) as error:
        audio.render(tmp_path / "noise.mid", tmp_path / "noise.wav")
    assert str(error.value).startswith(f"{tmp_path / 'noise.mid'}: {renderer} gave no audio (")
    assert "\n" not in str(error.value)
    assert [p.name for p in tmp_path.iterdir()] == ["noise.mid"]


def test_the_pip_renderer_plays_past_the_last_note(tmp_path, monkeypatch):
    hide_fluidsynth(monkeypatch, tmp_path)
    midi.write(C_MAJOR, tmp_path / "chord.mid", bpm=60)
    audio.render(tmp_path / "chord.mid", tmp_path / "chord.wav")
    data, rate, _ = samples(tmp_path / "chord.wav")
    assert len(data) == (4 + audio.RELEASE_BEATS) * rate, "four beats and the release, a second each at 60 bpm"


def test_the_release_track_leaves_the_notes_as_they_were(tmp_path):
    midi.write(C_MAJOR, tmp_path / "chord.mid")
    longer = audio._with_release((tmp_path / "chord.mid").read_bytes(), tmp_path / "chord.mid")
    (tmp_path / "longer.mid").write_bytes(longer)
    assert midi.read(tmp_path / "longer.mid") == midi.read(tmp_path / "chord.mid")
    assert len(midi.track_spans(longer, tmp_path / "longer.mid")) == 3


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16383, 16384, 2**21, 2**28 - 1])
def test_varlen_reads_back(value):
    assert midi._varlen(audio._varlen(value), 0) == (value, len(audio._varlen(value)))


def test_the_pip_soundfont_is_found_without_importing_pretty_midi():
    imported = "pretty_midi" in sys.modules
    font = audio.pip_synthesizer()
    assert font.name == "TimGM6mb.sf2" and font.stat().st_size > 1_000_000
    assert imported or "pretty_midi" not in sys.modules


def test_without_any_renderer_it_says_what_to_install(tmp_path, monkeypatch):
    midi.write(C_MAJOR, tmp_path / "chord.mid")
    hide_fluidsynth(monkeypatch, tmp_path)
    monkeypatch.setattr(audio, "PIP_RENDERER", "pianoroll_no_such_renderer")
    with pytest.raises(audio.AudioUnavailable) as error:
        audio.render(tmp_path / "chord.mid", tmp_path / "chord.wav")
    assert str(error.value).startswith("fluidsynth: not installed, so no WAV files")
    assert "apt-get install fluidsynth fluid-soundfont-gm" in str(error.value)
    assert "pip install midirenderer pretty_midi" in str(error.value)
    assert not (tmp_path / "chord.wav").exists()
