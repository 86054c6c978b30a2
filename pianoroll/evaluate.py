"""How good a model is: on held-out pieces, against baselines, and against real music.

Prediction quality is measured per frame on the pieces the bundle held out
(never on its training pieces), beside two baselines that need no learning:

- i.i.d.: every pitch sounds with its frequency in the training pieces,
  independently of everything else (a floor keeps unseen pitches finite);
- repeat: the next column is the last one again, smoothed towards the i.i.d.
  rates as p = (1 - ε)·last + ε·base so that it is a proper distribution;
  ε is the value that minimises NLL on the training pieces.

A model that cannot beat "repeat" has not learned music, only that notes last.
Generated music is then compared with the held-out pieces on the measures of
``measures.py``: whether it moves, how long its notes are, whether it is as
full and as wide, whether its columns are chords, in which keys, whether it
keeps its density from the first quarter to the last, and whether a
classifier can tell it from the real pieces.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pianoroll import PianorollError, Progress, files, metrics, pages, quiet
from pianoroll import roll as rolls
from pianoroll.bundle import BundleConfig

IID_PRIOR = 0.5  # pseudo-count per outcome: the i.i.d. rate is (on + 0.5) / (frames + 1), never 0 or 1
EPSILONS = np.geomspace(1e-3, 1.0, 60)  # the grid the repeat baseline's ε is chosen from
DENSITY_BAND = 0.25  # the goal: composed density within ±25% of held-out music in every quarter
PROFILE_BINS = 20  # density over relative time, for density.png
MODES = {  # the ways compose turns probabilities into notes, at their usual settings
    "vanish": {"mode": "vanish", "vanish": 0.65},
    "seed-vanish": {"mode": "seed-vanish", "vanish": 0.65, "vanish_inc": 1.001},
    "threshold": {"mode": "threshold", "threshold": 0.5},
    "sample": {"mode": "sample", "temperature": 1.0},
}
EVENT_MODES = {"sample": {"mode": "sample", "temperature": 1.0}, "seed": {"mode": "seed"}}  # tokens, notes, messages


@dataclasses.dataclass(frozen=True)
class Scores:
    """Per-frame prediction quality: NLL in nats per frame, Brier per pitch, F1 at 0.5."""

    nll: float
    brier: float
    f1: float

    @classmethod
    def of(cls, probs: np.ndarray, targets: np.ndarray) -> "Scores":
        return cls(**metrics.frame_scores(probs, targets))


# ---- data --------------------------------------------------------------------------------------

def bundle_pieces(config: BundleConfig) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """The bundle's training and held-out pieces as 0/1 frames, read from the pages it was trained on."""
    from pianoroll import dataset

    images = Path(config.data.images)
    held_names = list(config.data.held_out_pieces)
    if not held_names:
        raise PianorollError(f"{images}: the bundle records no held-out pieces to evaluate on")
    split = dataset.load_split(images, config.data.train_pieces, held_names, config.resolution)
    return ([rolls.as_frames(roll) for roll in split.train.values()],
            [rolls.as_frames(roll) for roll in split.held_out.values()], held_names)


def previous_columns(frames: np.ndarray) -> np.ndarray:
    """The column before each column of a piece; silence before the first (the lead-in)."""
    return np.concatenate([np.zeros((1, frames.shape[1]), frames.dtype), frames[:-1]])


# ---- baselines ---------------------------------------------------------------------------------

def iid_rates(train: list[np.ndarray]) -> np.ndarray:
    """Each pitch's frequency over the training frames, with half a pseudo-count per outcome."""
    stacked = np.concatenate(train)
    return (stacked.sum(axis=0) + IID_PRIOR) / (stacked.shape[0] + 2 * IID_PRIOR)


def repeat_probs(frames: np.ndarray, rates: np.ndarray, epsilon: float) -> np.ndarray:
    """The repeat baseline's prediction for every column of a piece."""
    return (1 - epsilon) * previous_columns(frames) + epsilon * rates


def repeat_epsilon(train: list[np.ndarray], rates: np.ndarray) -> float:
    """The ε of the grid that gives the repeat baseline its lowest NLL on the training pieces.

    A cell is either (previous on, now on), (on, off), (off, on) or (off, off);
    counting each kind per pitch makes every ε on the grid cheap to score.
    """
    stacked = np.concatenate(train)
    before = np.concatenate([previous_columns(f) for f in train])
    counts = [((before == b) & (stacked == a)).sum(axis=0) for b in (1, 0) for a in (1, 0)]
    frames = stacked.shape[0]

    def nll(eps: float) -> float:
        stay, go = (1 - eps) + eps * rates, eps * rates  # p(on) after on, after off
        logs = [np.log(stay), np.log1p(-stay), np.log(go), np.log1p(-go)]
        return -sum(float((c * np.clip(lg, math.log(metrics.CLIP), 0)).sum()) for c, lg in zip(counts, logs)) / frames

    return float(min(EPSILONS, key=nll))


@dataclasses.dataclass
class Baselines:
    rates: np.ndarray
    epsilon: float

    @classmethod
    def fit(cls, train: list[np.ndarray]) -> "Baselines":
        rates = iid_rates(train)
        return cls(rates, repeat_epsilon(train, rates))

    def scores(self, held_out: list[np.ndarray]) -> dict[str, Scores]:
        targets = np.concatenate(held_out)
        repeat = np.concatenate([repeat_probs(f, self.rates, self.epsilon) for f in held_out])
        return {"iid": Scores.of(np.broadcast_to(self.rates, targets.shape), targets),
                "repeat": Scores.of(repeat, targets)}


def model_scores(loaded: Any, pieces: list[np.ndarray]) -> Scores:
    """A bundle's per-frame scores on every column of some pieces (0/1 frames), streamed through ``train.predict``."""
    from pianoroll import dataset, train
    config = loaded.config.model
    source = dataset.stream([rolls.from_frames(f) for f in pieces], loaded.resolution)
    return Scores.of(train.predict(loaded.model, source, config.inputs()), source.targets)


# ---- generated against real music --------------------------------------------------------------

def primers(held_out: list[np.ndarray], count: int) -> np.ndarray:
    """The first WINDOW columns of held-out pieces, in turn, as (count, WINDOW, PITCHES)."""
    from pianoroll import compose

    starts = [compose.fit_window(rolls.from_frames(f), "held out").frames for f in held_out]
    return np.stack([starts[i % len(starts)] for i in range(count)]).astype(np.float32)


def compose_modes(bundle_dir: Path, config: BundleConfig, held_out: list[np.ndarray], count: int, length: int,
                  seed: int, modes: dict[str, dict] = MODES) -> dict[str, np.ndarray]:
    """``count`` pieces of ``length`` columns per mode, each from a held-out primer."""
    from pianoroll import bundle, compose

    step = bundle.stepper(bundle_dir)
    start = primers(held_out, count)
    return {name: compose.generate(step, start, length, compose.Settings(**settings), seed,
                                   targets=compose.targets(config))
            for name, settings in modes.items()}


def event_modes(bundle_dir: Path, config: BundleConfig, count: int, length: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` pieces of ``length`` columns per mode of an event network, each from a training piece's first events."""
    from pianoroll import compose

    return {name: compose.event_pieces(bundle_dir, config, compose.Settings(**settings), length, count, seed, None)[0]
            for name, settings in EVENT_MODES.items()}


def profile(frames: np.ndarray, bins: int = PROFILE_BINS) -> np.ndarray:
    """Notes sounding per column, averaged in ``bins`` stretches of relative time."""
    per_column = np.asarray(frames).sum(axis=1)
    return np.array([part.mean() if part.size else 0.0 for part in np.array_split(per_column, bins)])


def pitch_class_distance(a: list[float], b: list[float]) -> float:
    """Total variation between two pitch-class histograms: 0 same, 1 disjoint."""
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def music_summary(pieces: list[np.ndarray], resolution: float) -> dict[str, Any]:
    """The measures of a set of pieces (0/1 frames), each piece weighing the same, and its density profile."""
    from pianoroll import measures

    found = [measures.piece_measures(f, resolution) for f in pieces]
    return {**measures.summarise(found).to_dict(),
            "profile": np.mean([profile(f) for f in pieces], axis=0).tolist(), "measures": found}


def against_real(summary: dict[str, Any], real: dict[str, Any], seed: int = 0,
                 longest_beats: float | None = None) -> dict[str, Any]:
    """How far generated music is from real music: per feature (MGEval), the classifier, density per quarter.

    Merged into the generated music's summary, so none of its keys may be one
    of ``music_summary``'s: the MGEval comparisons are ``feature_comparisons``
    beside the summary's mean ``features``.
    """
    from pianoroll import measures

    ratios = [g / r if r > 0 else None for g, r in zip(summary["density_by_quarter"], real["density_by_quarter"])]
    within = all(r is not None and abs(r - 1) <= DENSITY_BAND for r in ratios)
    return {"pitch_class_distance": pitch_class_distance(summary["pitch_classes"], real["pitch_classes"]),
            "density_ratio_by_quarter": ratios, "density_within_band": within,
            "classifier_accuracy": measures.two_sample_accuracy(summary["measures"], real["measures"], seed),
            "feature_comparisons": [c.to_dict() for c in measures.compare_sets(summary["measures"], real["measures"])],
            "goals": piece_goals(summary["measures"], real, longest_beats)}


CHANGE_SHARE_GOAL = 0.5  # a composed piece should change column at least half as often as real music
CHORD_SHARE_GOAL = 0.8  # and have at least 80% of its chord share


def piece_goals(found: list[Any], real: dict[str, Any], longest_beats: float | None = None) -> dict[str, Any]:
    """How many composed pieces meet each goal against real music, and all of them at once.

    Changes: at least CHANGE_SHARE_GOAL of the real change share. Held notes:
    none longer than ``longest_beats`` (the longest training note; by default
    the longest held-out note). Density: within ±DENSITY_BAND of the real
    density in every quarter. Chords: at least CHORD_SHARE_GOAL of the real
    chord share.
    """
    features = real["features"]
    longest = longest_beats if longest_beats is not None else max(m.longest_note_beats for m in real["measures"])
    checks = {
        "changes": [m.change_share >= CHANGE_SHARE_GOAL * features["change_share"] for m in found],
        "held_notes": [m.longest_note_beats <= longest for m in found],
        "density": [all(r > 0 and abs(q / r - 1) <= DENSITY_BAND for q, r in zip(m.density_by_quarter,
                                                                                real["density_by_quarter"]))
                    for m in found],
        "chords": [m.chord_share >= CHORD_SHARE_GOAL * features["chord_share"] for m in found],
    }
    every = [all(values) for values in zip(*checks.values())]
    return {**{name: int(sum(values)) for name, values in checks.items()}, "all": int(sum(every)),
            "pieces": len(found), "longest_note_beats": longest}


# ---- the whole evaluation ----------------------------------------------------------------------

def evaluate(bundle: Any, compare: Iterable[Any] = (), count: int | None = None, length: int | None = None,
             seed: int = 0, modes: dict[str, dict] = MODES, on: Path | None = None, composed: Path | None = None,
             progress: Progress = quiet) -> dict[str, Any]:
    """Everything ``make evaluate`` reports, as one JSON-ready dict.

    The bundle is scored on its held-out pieces, or with ``on`` on every
    piece of another folder of pages (a user's own test set). ``composed``
    names a folder that `pianoroll compose` wrote: its pieces are measured
    against the real ones beside the modes composed here. ``count`` pieces are
    composed per mode, by default one per held-out piece, so the two-sample
    test weighs as many composed pieces as real ones.
    """
    progress("reading the held-out pieces")
    train, held_out, held_names = bundle_pieces(bundle.config)
    if on is not None:
        held_names, held_out = pages_frames(Path(on), bundle.resolution)
    baselines = Baselines.fit(train)
    progress("scoring the model and the baselines")
    events = bundle.config.encoding is not None  # an event network: its held-out figures are per event, from training
    scores = {**({} if events else {"model": model_scores(bundle, held_out)}), **baselines.scores(held_out)}
    for other in compare:
        if other.config.encoding is None:
            scores[str(other.path)] = model_scores(other, held_out)
    length = length or int(np.median([len(f) for f in held_out]))
    count = len(held_out) if count is None else count
    real = music_summary(held_out, bundle.resolution)
    music = {"held_out": real}
    longest = bundle.config.data.music.longest_note_beats if bundle.config.data.music else None
    def measured(pieces: list[np.ndarray]) -> dict[str, Any]:
        summary = music_summary(pieces, bundle.resolution)
        return {**summary, **against_real(summary, real, seed, longest)}

    if count > 0 and on is None:
        music[TRAINING] = measured(training_sample(train, len(held_out), seed))
    if count > 0:
        progress(f"composing {count} pieces of {length} columns per mode")
        made = (event_modes(bundle.path, bundle.config, count, length, seed) if events else
                compose_modes(bundle.path, bundle.config, held_out, count, length, seed, modes))
        music.update({mode: measured(list(pieces)) for mode, pieces in made.items()})
    if composed is not None:
        music[str(composed)] = measured(composed_frames(Path(composed)))
    for entry in music.values():
        entry["measures"] = [m.to_dict() for m in entry["measures"]]
    return {
        "model": str(bundle.path),
        "arch": bundle.config.arch,
        "loss": bundle.config.loss,
        "resolution": bundle.resolution,
        "on": str(on) if on is not None else None,
        "held_out_pieces": held_names,
        "held_out_frames": int(sum(len(f) for f in held_out)),
        "repeat_epsilon": baselines.epsilon,
        "scores": {name: dataclasses.asdict(s) for name, s in scores.items()},
        "event_figures": bundle.config.metrics.figures() if events and bundle.config.metrics else None,
        "music": music,
        "compose": {"count": count, "length": length, "seed": seed, "modes": EVENT_MODES if events else modes},
    }


TRAINING = "training"  # the report's row of real training pieces: what "indistinguishable" scores


def training_sample(train: list[np.ndarray], size: int, seed: int) -> list[np.ndarray]:
    """``size`` training pieces drawn without replacement (seeded): real music measured as composed music is."""
    chosen = np.random.default_rng(seed).choice(len(train), size=min(size, len(train)), replace=False)
    return [train[i] for i in sorted(chosen)]


def composed_frames(folder: Path) -> list[np.ndarray]:
    """The 0/1 frames of every piece `pianoroll compose` wrote to a folder (its JSON records name the PNGs)."""
    from pianoroll import gallery

    found = [rolls.as_frames(pages.read_image(folder / record["files"]["png"])) for record in gallery.records(folder)]
    if not found:
        raise PianorollError(f"{folder}: no composed pieces here (make some with `make compose OUT={folder}`)")
    return found


def pages_frames(folder: Path, resolution: float) -> tuple[list[str], list[np.ndarray]]:
    """Every piece of a folder of pages as 0/1 frames, at the bundle's resolution or a PianorollError."""
    pieces = pages.load_pieces(folder)
    for name, (_, found) in pieces.items():
        if not math.isclose(found, resolution):
            raise PianorollError(f"{folder}: {name} is at resolution {found}, the bundle at {resolution}")
    names = sorted(pieces)
    return names, [rolls.as_frames(pieces[name][0]) for name in names]


# ---- reports -----------------------------------------------------------------------------------

def scores_table(scores: dict[str, dict[str, float]]) -> list[str]:
    """A Markdown table of per-frame scores, best NLL first."""
    lines = ["| predictor | NLL (nats/frame) | Brier | F1 |", "| --- | ---: | ---: | ---: |"]
    for name, s in sorted(scores.items(), key=lambda item: item[1]["nll"]):
        lines.append(f"| {name} | {s['nll']:.3f} | {s['brier']:.5f} | {s['f1']:.3f} |")
    return lines


def figure(value: Any, digits: int = 2) -> str:
    """A number for a report table: "–" for a figure that is missing or not a number (nan, None)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return "–"
    return f"{value:.{digits}f}"


def goals_met(m: dict[str, Any]) -> str:
    """"7/10": the composed pieces that meet every goal (``piece_goals``), of all; "–" for real music."""
    goals = m.get("goals")
    return f"{goals['all']}/{goals['pieces']}" if goals else "–"


def music_table(music: dict[str, dict[str, Any]]) -> list[str]:
    """A Markdown table of generated against held-out music: the mean of each measure, and how close to real."""
    lines = ["| music | change share | longest note (beats) | density | polyphony | pitch range | chord share | thin "
             "| pitch-class TV | density ratio to real by quarter | within ±25% | classifier accuracy | goals met |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | :---: | ---: | ---: |"]
    for name, m in music.items():
        f = m["features"]
        ratios = (" / ".join(figure(r) for r in m["density_ratio_by_quarter"])
                  if "density_ratio_by_quarter" in m else "–")
        within = {True: "yes", False: "no"}.get(m.get("density_within_band"), "–")
        lines.append(f"| {name} | {figure(f['change_share'], 3)} | {figure(f['longest_note_beats'])} "
                     f"| {figure(f['density'])} | {figure(f['polyphony'])} | {figure(f['pitch_range'], 1)} "
                     f"| {figure(f['chord_share'], 3)} | {figure(m.get('thin_share'), 3)} "
                     f"| {figure(m.get('pitch_class_distance'), 3)} | {ratios} "
                     f"| {within} | {figure(m.get('classifier_accuracy'))} | {goals_met(m)} |")
    return lines


def goals_table(music: dict[str, dict[str, Any]]) -> list[str]:
    """A Markdown table of how many composed pieces of each mode meet each goal of ``piece_goals``."""
    lines = ["| music | changes | held notes | density | chords | all |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, m in music.items():
        goals = m.get("goals")
        if goals:
            lines.append(f"| {name} | " + " | ".join(f"{goals[key]}/{goals['pieces']}" for key in
                                                    ("changes", "held_notes", "density", "chords", "all")) + " |")
    return lines


def comparisons_table(music: dict[str, dict[str, Any]]) -> list[str]:
    """A Markdown table of each feature's MGEval overlap with the real pieces, per mode of composed music."""
    from pianoroll.measures import FEATURES

    names = [name.replace("_", " ") for name in FEATURES]
    lines = ["| music | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for name, m in music.items():
        if m.get("feature_comparisons"):
            overlap = {c["feature"]: c["overlap"] for c in m["feature_comparisons"]}
            lines.append(f"| {name} | " + " | ".join(figure(overlap.get(f)) for f in FEATURES) + " |")
    return lines


MUSIC_NOTE = (
    "Every figure is the mean over pieces, each piece weighing the same. Change share: the share of "
    "columns that differ from the one before; longest note: each piece's longest note; density: sounding "
    "notes per column; polyphony: the same over non-empty columns only; pitch range in semitones; chord "
    "share: of the sounding columns, the share whose pitch classes fit one triad or seventh chord; thin: the "
    "share of columns in stretches of a bar or more sounding at most half a piece's usual notes (voices "
    "dropped out; not read by the classifier); pitch-class TV: the total-variation distance to the real pitch "
    "classes; classifier accuracy: how well a cross-validated logistic regression on the pieces' measures "
    "tells composed from real pieces (0.5 = it cannot); goals met: the composed pieces that change column "
    "at least {changes:.0%} as often as the real music, hold no note longer than {longest} (the longest "
    "training note, or the longest real one for a bundle that does not record it), stay within "
    "±{band:.0%} of the real density in every quarter, and "
    "have at least {chords:.0%} of the real chord share.")


def music_section(music: dict[str, dict[str, Any]]) -> list[str]:
    """What the measures mean, the music table, and the goals table when music was composed."""
    longest = next((m["goals"]["longest_note_beats"] for m in music.values() if m.get("goals")), None)
    lines = [MUSIC_NOTE.format(changes=CHANGE_SHARE_GOAL, band=DENSITY_BAND, chords=CHORD_SHARE_GOAL,
                               longest="–" if longest is None else f"{longest:g} beats"), "",
             *music_table(music), ""]
    if longest is not None:
        lines += ["Composed pieces meeting each goal:", "", *goals_table(music), ""]
    if any(m.get("feature_comparisons") for m in music.values()):
        lines += ["How close the composed pieces sit to the real ones, per feature: the overlap of the density of "
                  "composed-to-real distances with that of real-to-real distances (MGEval; 1 = as close as the "
                  "real pieces are to each other, 0 = apart):", "", *comparisons_table(music), ""]
    return lines


def markdown(report: dict[str, Any]) -> str:
    """reports/evaluation.md: the tables a person reads."""
    c = report["compose"]
    real = (f"the {len(report['held_out_pieces'])} pieces of {report['on']}" if report.get("on")
            else f"{len(report['held_out_pieces'])} held-out pieces")
    lines = [
        f"# Evaluation of `{report['model']}`", "",
        f"{report['arch']} network, {report['loss']} loss, resolution {report['resolution']} quarter notes; "
        f"{real}, {report['held_out_frames']} frames. "
        f"Repeat baseline: p = (1 − ε)·last + ε·i.i.d. with ε = {report['repeat_epsilon']:.4f} (best on the "
        "training pieces). NLL clips probabilities to [1e-6, 1 − 1e-6].", "",
        "## Predicting the next column", "", *scores_table(report["scores"]), "",
        *([event_line(report["event_figures"]), ""] if report.get("event_figures") else []),
        "## Composed against real music", "",
        f"{c['count']} pieces of {c['length']} columns per mode, seed {c['seed']}, each from the first "
        f"columns of one of {real}; `held_out` is those real pieces themselves, and `{TRAINING}` as many "
        "training pieces, drawn at random and measured alike: real music against real music, what the "
        "classifier scores when it cannot tell two sets apart.", "",
        *music_section(report["music"]),
    ]
    return "\n".join(lines)


def event_line(figures: dict[str, Any]) -> str:
    """An event network's held-out figures, which are per event and in its own terms, not per frame."""
    return (f"The model is an event network, measured per event in its own terms: loss {figures['loss']:.3f}, "
            f"NLL {figures['nll_per_event']:.3f} nats/event over {figures['events']} held-out events.")


def plot_density(report: dict[str, Any], path: Path) -> None:
    """reports/density.png: notes per column over relative time, per mode, against the held-out pieces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, m in report["music"].items():
        x = (np.arange(len(m["profile"])) + 0.5) / len(m["profile"])
        ax.plot(x, m["profile"], label=name, linewidth=3 if name == "held_out" else 1.5,
                color="black" if name == "held_out" else None)
    ax.set_xlabel("position in the piece")
    ax.set_ylabel("sounding notes per column")
    ax.set_title(f"Density over time: {report['model']}")
    ax.legend()
    fig.tight_layout()
    files.write_figure(fig, path)

