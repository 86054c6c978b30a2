"""audio: real fluidsynth renders real sound, says when it cannot, and never leaves half a WAV."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from pianoroll import audio, midi
from pianoroll.roll import Note

C_MAJOR = [Note(60, 0.0, 2.0), Note(64, 0.0, 2.0), Note(67, 0.0, 2.0), Note(72, 2.0, 4.0, velocity=110)]


def samples(path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as sound:
        data = np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2")
        return data.reshape(-1, sound.getnchannels()), sound.getframerate(), sound.getsampwidth()


def test_a_chord_sounds(tmp_path):
    midi.write(C_MAJOR, tmp_path / "chord.mid", bpm=120)
    audio.render(tmp_path / "chord.mid", tmp_path / "chord.wav")
    data, rate, width = samples(tmp_path / "chord.wav")
    assert (rate, width, data.shape[1]) == (audio.SAMPLE_RATE, 2, 2)
    assert len(data) >= 2 * rate, "four beats at 120 bpm last two seconds"
    first_second = data[:rate].astype(np.float64)
    assert np.sqrt(np.mean(first_second ** 2)) > 300, "the chord should be heard, not silence"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chord.mid", "chord.wav"]


def test_a_broken_file_gives_one_line_and_no_wav(tmp_path):
    (tmp_path / "noise.mid").write_bytes(b"MThd" + bytes(50))
    with pytest.raises(audio.AudioError) as error:
        audio.render(tmp_path / "noise.mid", tmp_path / "noise.wav")
    assert str(error.value).startswith(f"{tmp_path / 'noise.mid'}: fluidsynth gave no audio")
    assert "\n" not in str(error.value)
    assert [p.name for p in tmp_path.iterdir()] == ["noise.mid"]


def test_without_fluidsynth_it_says_what_to_install(tmp_path, monkeypatch):
    midi.write(C_MAJOR, tmp_path / "chord.mid")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(audio.AudioUnavailable, match="apt-get install fluidsynth fluid-soundfont-gm"):
        audio.render(tmp_path / "chord.mid", tmp_path / "chord.wav")
    assert not (tmp_path / "chord.wav").exists()
