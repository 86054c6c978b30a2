"""compose: the seed's vanish rule and the others, primers, the files a compose writes, bad input.

The bundle is a real (untrained, tiny) Keras network saved with bundle.save,
its output biases spread so that some pitches are likely and most are not,
which makes every rule's decisions non-trivial.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from pianoroll import PianorollError, audio, bundle, compose, midi, model, pages, stepping
from pianoroll import roll as rolls
from pianoroll.bench.seed_compose import seed_loop
from pianoroll.commands import compose as command
from pianoroll.compose import Settings
from pianoroll.roll import PITCHES, WINDOW

PIECE_COLUMNS = 60
TRAIN, HELD_OUT = ["alpha", "beta"], ["gamma"]
LENGTH = 24


def chord_piece(rng: np.random.Generator) -> np.ndarray:
    """A roll of three-note chords, one every beat."""
    piece = rolls.empty(PIECE_COLUMNS)
    for start in range(0, PIECE_COLUMNS, 4):
        piece[start:start + 4, rng.choice(np.arange(30, 60), 3, replace=False)] = rolls.ON
    return piece


def tiny(preset: str) -> model.ModelConfig:
    return dataclasses.replace(model.PRESETS[preset], conv_filters=4, conv_kernel=5, lstm_units=16, nade_units=16)


def save_bundle(root: Path, name: str, preset: str, images: Path, rng: np.random.Generator, weights: bool) -> Path:
    """A tiny untrained network of a preset, its output biases spread so some pitches are likely and most not."""
    import keras

    keras.utils.set_random_seed(0)
    config = tiny(preset)
    network = model.build(config)
    output = network.get_layer("nade_output_bias" if config.head == "nade" else "output")
    output.bias.assign(rng.normal(-1.0, 1.2, PITCHES).astype("float32"))
    output.kernel.assign(output.kernel * 3)
    data = bundle.DataSummary(images=str(images), pieces=3, frames=3 * PIECE_COLUMNS, train_pieces=tuple(TRAIN),
                              held_out_pieces=tuple(HELD_OUT), held_out_fraction=0.1,
                              music=bundle.TrainingMusic(density=3.0, longest_note_beats=1.0, change_share=0.25))
    record = bundle.BundleConfig(
        arch=config.arch, loss=config.loss, model=config, seed=0, resolution=rolls.DEFAULT_RESOLUTION, data=data,
        transpose=0, strategy="none", metrics=bundle.Metrics(bundle.FrameScores(nll=70.0, brier=0.2, f1=0.1)),
        stepping_agreement=None, epochs=0, best_epoch=None, version="0.1.0")
    bundle.save(network, record, root / name, model.export_weights(network) if weights else None)
    return root / name


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory) -> Path:
    images = tmp_path_factory.mktemp("pages")
    rng = np.random.default_rng(7)
    for name in TRAIN + HELD_OUT:
        pages.write_pages(chord_piece(rng), images, name)
    pages.write_manifest(images, [pages.Entry(source=f"{name}.mid", piece=name, pages=1, columns=PIECE_COLUMNS)
                                  for name in TRAIN + HELD_OUT])
    return images


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, images_dir) -> Path:
    """The default network (NADE head, beat), stepped in numpy from its exported weights."""
    return save_bundle(tmp_path_factory.mktemp("bundle"), "model", "convlstm", images_dir,
                       np.random.default_rng(7), weights=True)


@pytest.fixture(scope="module")
def independent_dir(tmp_path_factory, images_dir) -> Path:
    """The independent network, without exported weights: stepped through Keras like the seed's."""
    return save_bundle(tmp_path_factory.mktemp("bundle"), "independent", "independent", images_dir,
                       np.random.default_rng(8), weights=False)


@pytest.fixture(scope="module")
def step(bundle_dir):
    return bundle.stepper(bundle_dir)


@pytest.fixture(scope="module")
def primer(bundle_dir) -> np.ndarray:
    config = bundle.read_config(bundle_dir)
    return compose.choose_primers(None, config, 1, seed=3)[0].frames


def compose_cli(*flags: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(list(flags)))


# --- the rules -------------------------------------------------------------------------------


def test_seed_vanish_gives_the_seeds_columns(independent_dir, primer):
    network = bundle.load(independent_dir).model
    step = bundle.stepper(independent_dir)
    assert isinstance(step, stepping.KerasStep)
    settings = Settings(mode="seed-vanish", vanish=0.6, vanish_inc=1.02)  # a fast-growing offset, so the growth matters
    ours = compose.generate(step, primer[None], LENGTH, settings)[0]
    theirs = seed_loop(network, primer, LENGTH, settings.vanish, settings.vanish_inc)
    assert 0 < ours.mean() < 1, "decisions should be neither all on nor all off"
    assert np.array_equal(ours, theirs)
    assert ours[-5:].sum() > ours[:5].sum(), "the growing offset turns more pitches on"


def conditionals(step, primer: np.ndarray, song: np.ndarray) -> np.ndarray:
    """For every composed column, each pitch's probability given the window, the key since the primer began and the
    pitches below it as decided."""
    frames = np.concatenate([primer, song])
    windows = np.stack([frames[i:i + WINDOW] for i in range(len(song))])
    opened = np.concatenate([np.tile(primer, (stepping.PRIMER_KEY_WEIGHT, 1)), song])  # the primer counted that often
    keys = rolls.key_memory(opened)[len(opened) - len(song):]
    return step.network.probabilities(windows, WINDOW + np.arange(len(song)), keys, song)


def test_threshold_decides_pitch_by_pitch_and_stops_at_the_cap(step, primer):
    song = compose.generate(step, primer[None], LENGTH, Settings(mode="threshold", threshold=0.3, max_notes=2))[0]
    for column, p in zip(song > 0.5, conditionals(step, primer, song)):
        on = np.flatnonzero(column)
        assert np.all(p[on] >= 0.3), "every note was likely enough, given the notes below it"
        below_last = np.arange(on[-1] if on.size == 2 else PITCHES)
        assert np.all(p[below_last][~column[below_last]] < 0.3), "no pitch was passed over that was likely enough"
    assert song.sum(axis=1).max() == 2 and song.sum() > LENGTH


def test_sampling_follows_the_seed_and_the_temperature(step, primer):
    sample = Settings(mode="sample")
    first = compose.generate(step, primer[None], LENGTH, sample, seed=1)
    assert np.array_equal(first, compose.generate(step, primer[None], LENGTH, sample, seed=1))
    assert not np.array_equal(first, compose.generate(step, primer[None], LENGTH, sample, seed=2))
    cold = compose.generate(step, primer[None], LENGTH, Settings(mode="sample", temperature=1e-6), seed=5)
    warm = compose.generate(step, primer[None], LENGTH, Settings(mode="threshold", threshold=0.5))
    assert np.array_equal(cold, warm), "near temperature 0 sampling is the 0.5 threshold"


def decider(mode: str, count: int, **settings) -> compose.Decider:
    chosen = Settings(mode=mode, **settings)
    return compose.DECIDERS[mode](chosen, compose.Targets(density=3, longest_note=4), count, np.random.default_rng(0))


def test_draws_have_the_tempered_probability():
    probs = np.full((20_000, PITCHES), 0.3, dtype=np.float32)
    on = decider("sample", len(probs)).rule(np.zeros_like(probs, bool), ON_BEAT)(probs)
    assert abs(on.mean() - 0.3) < 0.01
    assert np.allclose(compose.tempered(np.array([0.3, 0.5, 0.9]), 1.0), [0.3, 0.5, 0.9])
    assert np.allclose(compose.tempered(np.array([0.25]), 2.0), [1 / (1 + np.sqrt(3))])


def test_seed_vanish_offset_grows_by_repeated_multiplication():
    offsets = compose.vanish_offsets(Settings(vanish=0.5, vanish_inc=2 ** 0.5))
    assert [float(next(offsets)) for _ in range(3)] == pytest.approx([0.5, 0.5 * 2 ** 0.5, 1.0])
    probs = np.array([[0.34, 0.35, 0.36]], dtype=np.float32)
    assert decider("seed-vanish", 1, vanish=0.65).rule(probs > 1, ON_BEAT)(probs).tolist() == [[False, True, True]]


ON_BEAT = np.array([16])  # the next column's index in its piece: a bar line at resolution 0.25


def test_vanish_starts_pitches_above_the_offset_and_holds_with_probability_p():
    count = 20_000
    probs = np.tile(np.linspace(0, 1, PITCHES, dtype=np.float32), (count, 1))
    sounding = np.zeros((count, PITCHES), bool)
    sounding[:, 1::2] = True  # every other pitch is held from the column before
    on = decider("vanish", count, vanish=0.6).rule(sounding, np.full(count, 16))(probs)
    starting = ~sounding[0]
    assert np.array_equal(on[:, starting], np.broadcast_to(probs[0, starting] + 0.6 >= 1, (count, starting.sum())))
    held = on[:, sounding[0]].mean(axis=0)
    assert np.max(np.abs(held - probs[0, sounding[0]])) < 0.02, "the window still shows where these notes began"


def holding(count: int, rows: list[int], columns: int, survival: tuple[float, ...] = ()) -> tuple[compose.Vanish, np.ndarray]:
    """A vanish rule whose pieces have held the same pitches (``rows``) for ``columns`` columns."""
    targets = compose.Targets(density=3, longest_note=50, survival=survival)
    vanish = compose.Vanish(Settings(vanish=0.6), targets, count, np.random.default_rng(0))
    sounding = np.zeros((count, PITCHES), bool)
    sounding[:, rows] = True
    for _ in range(columns):
        vanish.record(sounding)
    return vanish, sounding


def aged_vanish(count: int, survival: tuple[float, ...]) -> tuple[compose.Vanish, np.ndarray]:
    """A vanish rule whose pieces have held their two lowest pitches for 12 columns: longer than the window shows."""
    return holding(count, [0, 1], 12, survival)


def test_vanish_lets_a_note_the_window_no_longer_shows_begin_go_on_at_the_mean_of_p_and_the_training_hazard():
    count = 20_000
    survival = (1.0, 1.0, *[0.9 ** a for a in range(1, 30)])  # from the second column on, 10% of notes end each column
    vanish, sounding = aged_vanish(count, survival)
    vanish.hold_power[:] = 1.0  # the pace it steered towards while aging is tested on its own below
    probs = np.zeros((count, PITCHES), np.float32)
    probs[:, 0], probs[:, 1] = 0.99, 0.5
    on_beat = vanish.rule(sounding, np.full(count, 16))(probs).mean(axis=0)
    over_an_eighth = 0.9 ** 2  # two columns since the last eighth
    assert on_beat[0] == pytest.approx(np.sqrt(0.99 * over_an_eighth), abs=0.01), "a note sure to go on meets the hazard"
    assert on_beat[1] == pytest.approx(np.sqrt(0.5 * over_an_eighth), abs=0.01), "a doubtful one ends sooner"
    between = vanish.rule(sounding, np.full(count, 17))(probs).mean(axis=0)
    assert between[0] == pytest.approx(1 - compose.BETWEEN_EIGHTHS_CHANGE * (1 - np.sqrt(0.99 * 0.9)), abs=0.005)
    unknown, sounding = aged_vanish(count, ())  # an older bundle, without the training music's note lengths
    assert unknown.rule(sounding, np.full(count, 16))(probs).mean(axis=0)[1] == pytest.approx(0.25, abs=0.01), "p²"


def test_vanish_draws_again_a_column_on_a_beat_or_an_eighth_that_only_repeats_the_last():
    vanish = decider("vanish", 3)
    before = np.zeros((3, PITCHES), bool)
    before[:, :4] = True
    changed = before.copy()
    changed[2, 5] = True
    at = {column: vanish.again(before, changed, np.full(3, column)).tolist() for column in (16, 18, 17)}
    assert at[16] == at[18] == [True, True, False], "a beat, an off-beat eighth: only the changed column stands"
    assert at[17] == [False] * 3, "between eighths, holding on is what the chorales do"
    assert decider("sample", 3).again(before, before, np.full(3, 16)).tolist() == [False] * 3


class Flip(compose.Decider):
    """A test rule: nothing sounds at its first draw of a column, everything at its second; piece 0 is sent back."""

    draws = 0

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        self.draws += 1
        full = self.draws % 2 == 0
        return lambda p: np.full(p.shape, full)

    def again(self, before: np.ndarray, column: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return np.arange(self.count) == 0


def test_a_column_sent_back_is_decided_again_through_the_network_and_only_for_its_piece(step, primer, monkeypatch):
    monkeypatch.setitem(compose.DECIDERS, "flip", Flip)
    monkeypatch.setattr(compose, "MODES", (*compose.MODES, "flip"))
    song = compose.generate(step, np.repeat(primer[None], 2, axis=0), 3, Settings(mode="flip"))
    assert song[0].all() and not song[1].any()


def test_vanish_puts_starts_and_ends_where_the_beat_and_the_eighths_fall():
    count = 20_000
    probs = np.full((count, PITCHES), 0.5, np.float32)
    sounding = np.zeros((count, PITCHES), bool)
    sounding[:, 0] = True
    share = {}
    for column in (16, 18, 17):  # a beat, an off-beat eighth, a sixteenth between
        on = decider("vanish", count, vanish=0.6).rule(sounding, np.full(count, column))(probs)
        share[column] = (on[:, 1:].mean(), 1 - on[:, 0].mean())  # starts (p + v >= 1 on every pitch), ends
    assert share[16] == pytest.approx((1.0, 0.5), abs=0.01)
    assert share[18] == pytest.approx((compose.OFF_BEAT_START, compose.OFF_BEAT_END * 0.5), abs=0.01)
    assert share[17] == pytest.approx((compose.BETWEEN_EIGHTHS_CHANGE, compose.BETWEEN_EIGHTHS_CHANGE * 0.5), abs=0.01)


def test_a_change_keeps_its_whole_chance_on_every_column_of_a_coarser_grid():
    columns = np.arange(8)
    for weight in compose.change_weights(columns, 1.0):
        assert weight[:, 0].tolist() == [1.0] * 8  # every column is on a beat
    starts, ends = compose.change_weights(columns, 0.5)
    assert starts[:, 0].tolist() == [1.0, compose.OFF_BEAT_START] * 4
    assert ends[:, 0].tolist() == [1.0, compose.OFF_BEAT_END] * 4
    assert compose.columns_since_eighth(columns, 0.25).tolist() == [2, 1] * 4
    assert compose.columns_since_eighth(columns, 1.0).tolist() == [1] * 8


HALVING = tuple(0.5 ** a for a in range(40))  # half the notes end every column: a mean length of one column


def test_each_piece_aims_at_a_pace_of_its_own_drawn_around_the_training_musics():
    count = 20_000
    targets = compose.Targets(density=3, longest_note=50, survival=HALVING)
    assert targets.onsets() == pytest.approx(3.0 / (1 - 0.5 ** 39))
    assert compose.Targets(density=3).onsets() is None, "an older bundle: no note lengths, no pace"
    vanish = compose.Vanish(Settings(vanish=0.6), targets, count, np.random.default_rng(0))
    spread = np.log(vanish.pace_aim[:, 0] / targets.onsets())
    assert spread.mean() == pytest.approx(0.0, abs=0.01)
    assert spread.std() == pytest.approx(compose.PACE_SPREAD, rel=0.03)


def test_vanish_ends_held_notes_sooner_while_a_piece_starts_too_few_and_later_while_too_many():
    vanish, sounding = holding(2, [0, 1, 2], 0, HALVING)
    vanish.pace_aim[:] = [[0.5], [3.5]]  # onsets per column: one piece aims well below the training music's 3, one above
    for _ in range(4):  # three notes start, then are held: the running onsets fall from 3 to 2.7
        vanish.record(sounding)
    assert vanish.pace[:, 0] == pytest.approx([3.0 * (31 / 32) ** 3] * 2, rel=1e-3)
    assert vanish.hold_power[:, 0] == pytest.approx([1 / compose.PACE_INC ** 4, compose.PACE_INC ** 4])
    certain = np.full((2, PITCHES), 0.5, np.float32)
    vanish.hold_power[:] = [[2.0], [1.0]]
    goes_on = np.mean([vanish.rule(sounding, np.full(2, 16))(certain)[:, :3].mean(axis=1) for _ in range(4000)], axis=0)
    assert goes_on == pytest.approx([0.25, 0.5], abs=0.02), "a young note goes on with p to the hold power"
    for _ in range(500):
        vanish.record(np.zeros_like(sounding))
    assert vanish.hold_power[:, 0].tolist() == [compose.HOLD_POWER_LIMITS[1]] * 2, "silence: bounded, not unbounded"


C_MAJOR_TRIAD = [60, 64, 67]


def test_vanish_steers_its_offset_by_the_density_over_a_bar_and_lets_long_notes_go():
    vanish = decider("vanish", 2, vanish=0.5, vanish_inc=1.1)  # training density 3, a bar of 16 columns
    sparse, full = np.zeros(PITCHES, bool), np.zeros(PITCHES, bool)
    full[:6] = True  # six notes against the training music's three
    for _ in range(3):
        vanish.record(np.stack([sparse, full]))
    assert vanish.offset[:, 0] == pytest.approx([0.5 * 1.1 ** 3, 0.5 / 1.1 ** 3])
    assert vanish.density[:, 0] == pytest.approx([3 * (15 / 16) ** 3, 6 - 3 * (15 / 16) ** 3])
    vanish.record(np.stack([full, full]))  # the second piece has now held its notes for 4 columns
    certain = np.ones((2, PITCHES), np.float32)
    on = vanish.rule(np.stack([full, full]), np.full(2, 16))(certain)
    assert on[0].all() and not on[1, :6].any() and on[1, 6:].all(), "a note as long as the longest is let go"


def chord_held(count: int, columns: int, notes: int = 3) -> tuple[compose.Vanish, np.ndarray]:
    """A vanish rule whose pieces have held the same chord of ``notes`` notes for ``columns`` columns."""
    return holding(count, [pitch - rolls.LOWEST_PITCH for pitch in C_MAJOR_TRIAD[:notes]], columns)


def test_vanish_breathes_for_a_beat_after_a_chord_held_two_beats_from_a_beat():
    count = 20_000
    certain = np.ones((count, PITCHES), np.float32)  # left alone, every pitch would sound
    vanish, chord = chord_held(count, 8)  # columns 8 to 15: two beats from the beat at column 8
    column = vanish.rule(chord, np.full(count, 16))(certain)
    resting = ~column.any(axis=1)
    assert resting.mean() == pytest.approx(compose.BREATH_CHANCE, abs=0.015)
    assert not vanish.again(chord, column, np.full(count, 16))[resting].any(), "a breath is not drawn again"
    offset = vanish.offset.copy()
    for index in range(17, 21):
        vanish.record(column)
        column = vanish.rule(column, np.full(count, index))(certain)
        assert column[resting].any(axis=1).all() == (index == 20), "silent for the beat, then free"
    assert np.array_equal(vanish.offset[resting], offset[resting]), "the offset held still while they rested"
    assert np.all(vanish.offset[~resting] < offset[~resting]), "and was steered for the pieces that played on"


@pytest.mark.parametrize("held, column, notes", [(7, 16, 3), (10, 18, 3), (8, 16, 2)],
                         ids=["held from off the beat", "off the beat", "two notes"])
def test_vanish_breathes_only_on_a_beat_after_a_chord_held_from_one(held, column, notes):
    vanish, chord = chord_held(5_000, held, notes)
    assert vanish.rule(chord, np.full(5_000, column))(np.ones((5_000, PITCHES), np.float32)).any(axis=1).all()


def test_vanish_calls_the_voices_back_after_a_thin_column():
    vanish = decider("vanish", 5, vanish=0.6)  # training density 3: a column of one note is thin, of two it is not
    sounding = np.zeros((5, PITCHES), bool)
    sounding[[1, 4], 0] = True
    sounding[2, :2] = True
    sounding[3, :6] = True
    vanish.record(sounding)  # the running density falls below 3, except for the fourth piece's
    vanish.density[4] = 3.5  # as if the bar before had been fuller than the training music
    assert vanish.thin(sounding)[:, 0].tolist() == [False, True, False, False, False], "silence is not thin"
    probs = np.full((5, PITCHES), 0.2, np.float32)  # below 1 - 0.6, above (1 - 0.6) / 3
    starts = vanish.rule(sounding, np.full(5, 16))(probs) & ~sounding
    assert starts[1, 1:].all() and not starts[[0, 2, 3, 4]].any()
    assert vanish.most(sounding).tolist() == [PITCHES, 3, PITCHES, PITCHES, PITCHES], "and no more than three come back"


def test_vanish_places_its_starts_within_reach_and_no_other_rule_moves_a_note():
    sounding = np.zeros((3, PITCHES), bool)
    sounding[1, 40] = True
    reach = decider("vanish", 3).reach(sounding)
    assert reach.semitones == compose.START_REACH > 0 and reach.held is sounding
    assert reach.draws.shape == (3, PITCHES) and 0 <= reach.draws.min() and reach.draws.max() < 1
    assert all(decider(mode, 3).reach(sounding) is None for mode in ("seed-vanish", "threshold", "sample"))


def test_a_column_stops_at_the_deciders_cap_and_at_max_notes(step, primer):
    class Full(compose.Decider):
        def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
            return lambda p: np.ones(p.shape, bool)

        def most(self, sounding: np.ndarray) -> np.ndarray:
            return np.array([3, PITCHES])

    full = Full(Settings(), compose.Targets(), 2, np.random.default_rng(0))
    state = step.start(np.repeat(primer[None], 2, axis=0), np.full(2, WINDOW))
    before = np.zeros((2, PITCHES), bool)
    column = compose.decide_column(step, state, full, before, np.full(2, WINDOW), None)
    assert column.sum(axis=1).tolist() == [3, PITCHES] and column[0, :3].all(), "the lowest three, with a NADE"
    capped = compose.decide_column(step, state, full, before, np.full(2, WINDOW), 5)
    assert capped.sum(axis=1).tolist() == [3, 5]


def test_vanish_keeps_a_long_piece_within_the_training_density(step, primer):
    song = compose.generate(step, np.repeat(primer[None], 2, axis=0), 400, Settings(), seed=3,
                            targets=compose.Targets(density=3, longest_note=8, span=16))
    quarters = song.sum(axis=2).reshape(2, 4, 100).mean(axis=2)
    assert np.all(quarters[:, 0] > 6), "the untrained network starts far too full"
    assert np.all(np.abs(quarters[:, 1:] - 3) < 0.75), "the steered offset brings it to the training density"
    changes = np.any(song[:, 1:] != song[:, :-1], axis=2).mean()
    assert changes > 0.2, "the music moves"


def test_a_batch_steps_every_piece_alike(step, primer):
    batch = compose.generate(step, np.repeat(primer[None], 4, axis=0), LENGTH, Settings(mode="threshold", threshold=0.3))
    assert batch.shape == (4, LENGTH, PITCHES)
    assert all(np.array_equal(batch[0], piece) for piece in batch[1:])


@pytest.mark.parametrize("bad", [Settings(mode="loud"), Settings(vanish=1.2), Settings(vanish_inc=0),
                                 Settings(threshold=0), Settings(temperature=-1), Settings(max_notes=0)])
def test_settings_that_cannot_make_music(bad, step, primer):
    with pytest.raises(compose.ComposeError):
        compose.generate(step, primer[None], 2, bad)


# --- primers -------------------------------------------------------------------------------


def test_training_primers_are_windows_of_training_pieces(bundle_dir):
    config = bundle.read_config(bundle_dir)
    pieces = pages.load_pieces(Path(config.data.images))
    primers = compose.choose_primers(None, config, 30, seed=4)
    assert [p.source for p in primers] == [p.source for p in compose.choose_primers(None, config, 30, seed=4)]
    assert [p.source for p in primers] != [p.source for p in compose.choose_primers(None, config, 30, seed=5)]
    for primer in primers:
        name, start = primer.source.split("@")
        assert name in TRAIN
        assert np.array_equal(primer.frames, rolls.as_frames(pieces[name][0][int(start):int(start) + WINDOW]))


def test_png_and_midi_primers_are_their_first_columns(tmp_path):
    piece = chord_piece(np.random.default_rng(1))
    page = pages.write_pages(piece, tmp_path, "drawn")[0]
    assert np.array_equal(compose.file_primer(page, 0.25).frames, rolls.as_frames(piece[:WINDOW]))
    midi.write(rolls.to_notes(piece, 0.25), tmp_path / "drawn.mid")
    from_midi = compose.file_primer(tmp_path / "drawn.mid", 0.25)
    assert np.array_equal(from_midi.frames, rolls.as_frames(piece[:WINDOW])) and from_midi.padded == 0
    coarse = compose.file_primer(tmp_path / "drawn.mid", 1.0)  # a quarter-note bundle: one column per beat
    assert np.array_equal(coarse.frames, rolls.as_frames(piece[::4][:WINDOW]))


# --- the command -----------------------------------------------------------------------------


def wav_rms(path: Path) -> float:
    with wave.open(str(path)) as sound:
        assert sound.getsampwidth() == 2 and sound.getframerate() == audio.SAMPLE_RATE
        samples = np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2)))


def test_compose_writes_music_to_look_at_and_listen_to(bundle_dir, tmp_path, capsys):
    out = tmp_path / "output"
    assert compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", str(LENGTH),
                       "--count", "2", "--seed", "3", "--bpm", "90") == 0
    records = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    assert [r["name"] for r in records] == [r["name"] for r in records if r["name"].startswith("model-vanish-seed3-")]
    assert len(records) == 2 and records[0]["name"].endswith("-1")
    for record in records:
        image = pages.read_image(out / record["files"]["png"])
        assert image.shape == (LENGTH, PITCHES)
        notes = midi.read(out / record["files"]["midi"], allow_empty=True)
        assert notes == rolls.to_notes(image, 0.25)
        assert record["statistics"]["notes"] == len(notes) > 0
        measured = record["measures"]
        assert measured["notes"] == len(notes) and measured["columns"] == LENGTH
        changes = np.any(image[1:] != image[:-1], axis=1).mean()
        assert measured["change_share"] == pytest.approx(changes)
        assert measured["longest_note_beats"] == max(n.end - n.start for n in notes)
        assert record["options"] == {**record["options"], "mode": "vanish", "vanish": 0.65, "vanish_inc": 1.015,
                                     "length": LENGTH, "count": 2, "seed": 3, "bpm": 90.0, "primer": "training"}
        assert record["primer"]["source"].split("@")[0] in TRAIN
        assert record["bundle"]["path"] == str(bundle_dir) and record["bundle"]["arch"] == "convlstm"
        assert wav_rms(out / record["files"]["wav"]) > 100, "the WAV should not be silence"
        assert record["renderer"].split()[0] in ("fluidsynth", "midirenderer") and record["audio"] is None
    index = (out / "index.html").read_text()
    assert all(f'src="{r["files"]["png"]}"' in index and f'src="{r["files"]["wav"]}"' in index for r in records)
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left"
    assert "index.html: 2 pieces" in capsys.readouterr().out


def test_same_bundle_options_and_seed_give_the_same_bytes(bundle_dir, tmp_path):
    for out in ("one", "two"):
        for mode in ("vanish", "sample"):
            compose_cli("--model", str(bundle_dir), "--length", str(LENGTH), "--mode", mode, "--seed", "11",
                        "--count", "2", "--out", str(tmp_path / out))
    made = sorted(p.name for p in (tmp_path / "one").glob("*.mid"))
    assert len(made) == 4, "other options, other names: nothing overwritten"
    assert made == sorted(p.name for p in (tmp_path / "two").glob("*.mid"))
    for name in made:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_without_fluidsynth_the_pip_renderer_plays(bundle_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "output"
    compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "12", "--name", "pip")
    record = json.loads((out / "pip.json").read_text())
    assert record["renderer"] == "midirenderer TimGM6mb" and record["files"]["wav"] == "pip.wav"
    assert wav_rms(out / "pip.wav") > 100, "the WAV should not be silence"


def test_no_audio_writes_the_rest(bundle_dir, tmp_path, capsys):
    out = tmp_path / "output"
    compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "12", "--name", "mute", "--no-audio")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "mute.json", "mute.mid", "mute.png"]
    record = json.loads((out / "mute.json").read_text())
    assert record["files"]["wav"] is None and record["renderer"] is None and record["audio"] == compose.NO_AUDIO
    assert "no-audio" not in capsys.readouterr().out


def test_without_any_renderer_the_rest_is_written(bundle_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(audio, "PIP_RENDERER", "pianoroll_no_such_renderer")
    out = tmp_path / "output"
    compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "12", "--name", "quiet")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "quiet.json", "quiet.mid", "quiet.png"]
    record = json.loads((out / "quiet.json").read_text())
    assert record["files"]["wav"] is None and "apt-get install fluidsynth" in record["audio"]
    said = capsys.readouterr().out
    assert "apt-get install fluidsynth fluid-soundfont-gm" in said and "quiet.mid" in said


def test_a_short_primer_is_padded_with_silence(bundle_dir, tmp_path, capsys):
    midi.write([rolls.Note(60, 0.0, 1.0), rolls.Note(64, 0.0, 1.0)], tmp_path / "short.mid")
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path / "out"), "--length", "8",
                "--primer", str(tmp_path / "short.mid"), "--name", "short")
    assert f"{tmp_path / 'short.mid'}: shorter than the 9-column window; 5 silent columns put in front" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "short.json").read_text())["primer"] == {
        "source": str(tmp_path / "short.mid"), "padded": 5}


def test_a_silent_primer(bundle_dir, tmp_path):
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--length", "8", "--primer", "silence", "--name", "hush")
    assert json.loads((tmp_path / "hush.json").read_text())["primer"] == {"source": "silence", "padded": 0}


def test_a_piece_that_stops_moving_gets_a_hint(bundle_dir, tmp_path, capsys):
    silent = ("--primer", "silence", "--mode", "threshold", "--threshold", "1", "--length", "12")
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--name", "still", *silent)
    record = json.loads((tmp_path / "still.json").read_text())
    assert record["statistics"]["empty_fraction"] == 1.0
    assert "--mode sample" in capsys.readouterr().out
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--name", "drawn", "--mode", "sample", "--length", "12")
    assert "hint:" not in capsys.readouterr().out


def bundle_copy(bundle_dir: Path, target: Path, **changes) -> Path:
    """The bundle with some of its config.json changed."""
    target.mkdir()
    for name in ("model.keras", "weights.npz"):
        (target / name).write_bytes((bundle_dir / name).read_bytes())
    config = json.loads((bundle_dir / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **changes}))
    return target


@pytest.mark.parametrize("flags, says", [
    (["--model", "{tmp}/nothing"], "make train"),
    (["--model", "{old}"], "retrain"),
    (["--model", "{moved}"], "the bundle's training pages are needed for a random primer"),
    (["--primer", "{tmp}/noise.mid"], "noise.mid"),
    (["--primer", "{tmp}/missing.mid"], "no such primer"),
    (["--primer", "{tmp}/notes.txt"], "not a primer"),
    (["--length", "0"], "--length 0: must be a whole number from 1"),
    (["--length", "-4"], "--length -4"),
    (["--length", "ten"], "--length ten"),
    (["--length", "99999999"], "--length 99999999"),
    (["--count", "0"], "--count 0"),
    (["--count", "2.5"], "--count 2.5"),
    (["--vanish", "1.5"], "--vanish 1.5: must be at least 0 and below 1"),
    (["--max-notes", "0"], "--max-notes 0: must be between 1 and 106"),
    (["--mode", "loud"], "--mode loud: must be one of vanish, seed-vanish, threshold, sample"),
    (["--name", "../up"], "--name ../up"),
])
def test_bad_input_is_one_line_and_leaves_nothing(bundle_dir, tmp_path, flags, says):
    (tmp_path / "noise.mid").write_bytes(np.random.default_rng(0).bytes(200))
    (tmp_path / "notes.txt").write_text("C D E")
    old = bundle_copy(bundle_dir, tmp_path / "old", format=0)
    data = json.loads((bundle_dir / "config.json").read_text())["data"]
    moved = bundle_copy(bundle_dir, tmp_path / "moved", data={**data, "images": str(tmp_path / "gone")})
    flags = [f.format(tmp=tmp_path, old=old, moved=moved) for f in flags]
    out = tmp_path / "output"
    with pytest.raises(PianorollError) as error:
        compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "8", *flags)
    assert says in str(error.value) and "\n" not in str(error.value)
    assert not out.exists() or not any(out.iterdir())


def test_a_failure_while_writing_leaves_nothing(tmp_path):
    frames = np.zeros((8, PITCHES), dtype=np.float32)
    frames[:, 40] = 1
    too_high = np.zeros((8, PITCHES + 10), dtype=np.float32)  # pitches above MIDI's 127
    too_high[:, -1] = 1
    record = {"kind": "composition", "options": {}, "seed": 0}
    out = tmp_path / "output"
    with pytest.raises(PianorollError):
        compose.write_pieces(out, [("fine", frames, record), ("wrong", too_high, record)], 0.25, 120.0)
    assert list(out.iterdir()) == []
    with pytest.raises(compose.ComposeError, match="not a file name"):
        compose.write_pieces(out, [("sub/piece", frames, record)], 0.25, 120.0)


def test_an_out_that_is_a_file_is_refused_before_any_work(bundle_dir, tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(PianorollError, match="--out .*taken: is a file, not a folder"):
        compose_cli("--model", str(bundle_dir), "--out", str(tmp_path / "taken"), "--length", "8")
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_a_primer_reads_only_its_window_however_long_its_notes(bundle_dir, tmp_path):
    from tests.conftest import midi_bytes

    endless = tmp_path / "endless.mid"  # a note released after 2^26 ticks: 559,241 columns if read whole
    endless.write_bytes(midi_bytes([["0, Note_on_c, 0, 60, 90", f"{2 ** 26}, Note_off_c, 0, 60, 0"]]))
    primer = compose.file_primer(endless, 0.25)
    assert primer.frames.shape == (WINDOW, PITCHES) and primer.frames[:, 60 - rolls.LOWEST_PITCH].all()
    assert compose_cli("--model", str(bundle_dir), "--out", str(tmp_path / "out"), "--length", "8",
                       "--primer", str(endless), "--name", "endless", "--no-audio") == 0


def test_a_primer_whose_name_is_not_utf8_gets_through_to_the_json_and_the_page(bundle_dir, tmp_path):
    import os

    name = os.fsdecode(b"caf\xe9.mid")  # Latin-1 bytes, as an old file system would leave them
    midi.write([rolls.Note(60, 0.0, 4.0)], tmp_path / name)
    out = tmp_path / "out"
    assert compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "8",
                       "--primer", str(tmp_path / name), "--name", "odd", "--no-audio") == 0
    assert json.loads((out / "odd.json").read_text())["primer"]["source"].endswith("caf\ufffd.mid")
    assert "caf\ufffd.mid" in (out / "index.html").read_text()
