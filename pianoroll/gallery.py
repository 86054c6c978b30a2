"""output/index.html: every composed piece on one page, to read, listen to and compare.

The page is rebuilt from the pieces' JSON records after every compose, so it
always lists exactly what the folder holds, however the pieces got there. It
is one self-contained file: relative links to the pieces' files only, no
network, styles and scripts inline, so it works from ``file://`` and from any
static web server. Everything that matters is in the markup, readable with
JavaScript off:

- a ranking table: how many of the bands of the training music each piece
  keeps within, and how far it is from that music, best first;
- per piece, its roll as an inline SVG drawn from its PNG: notes as bars on a
  keyboard axis (C labels, octave lines), beat and bar lines counted from the
  piece's start (bar 1 of its MIDI file), the primer's columns shaded before
  it, the whole piece in a horizontally scrolling view; beside it the PNG page
  itself, as the model sees it;
- per piece, the music measures beside the training music's bands (from the
  bundle's ``config.json`` ``data.music``), each marked within or outside;
- per model, its held-out figures and its ``loss.png``.

A small inline script adds what needs one: a playhead that follows the audio
over the roll, clicking the roll to seek, and sorting the ranking table by
any column.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from pianoroll import PianorollError, pages
from pianoroll import roll as rolls
from pianoroll.bundle import BundleConfig, BundleError
from pianoroll.files import write_atomic
from pianoroll.roll import LOWEST_PITCH, PITCHES, WINDOW

INDEX = "index.html"
OPTIONS = ("mode", "vanish", "vanish_inc", "threshold", "temperature", "max_notes",
           "length", "bpm", "seed", "primer")
MODE_OPTIONS = {  # options a mode does not use, left out
    "vanish": {"threshold", "temperature"}, "seed-vanish": {"threshold", "temperature"},
    "threshold": {"vanish", "vanish_inc", "temperature"}, "sample": {"vanish", "vanish_inc", "threshold"}}

# The roll's drawing
BEAT_PX = 32  # a beat is this wide (a column is BEAT_PX × resolution, within COLUMN_PX)
COLUMN_PX = (3, 32)
ROW_PX = 5  # a semitone is this high
HEADER_PX = 16  # bar numbers above the roll
KEYS_PX = 40  # the keyboard axis at the left
SHOWN_PITCHES = (36, 96)  # C2..C7 at least, widened to whole octaves for notes beyond
BAR_BEATS = 4.0  # a 4/4 bar
DEFAULT_BPM = 120.0
BLACK_KEYS = {1, 3, 6, 8, 10}
NOTE_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")

# The bands of the training music, relative to its figures in config.json data.music
CHANGE_BAND = (0.5, 1.5)  # × the training music's change share
DENSITY_BAND = 0.25  # ± this share of the training music's density, in every quarter of the piece
CHANGE, LONGEST, CHORDS, DENSITY = "change_share", "longest_note_beats", "chord_share", "density_by_quarter"
HELD_OUT = (("f1", "F1", "higher is better"), ("nll", "NLL", "lower is better"),
            ("brier", "Brier", "lower is better"))

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; background: #f6f6f4; color: #222; line-height: 1.35; }
h1 { margin-bottom: .3rem; }
.intro { max-width: 62rem; color: #444; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1rem; margin-bottom: 1.5rem; }
section h2 { margin: 0 0 .4rem; font-size: 1.15rem; }
.rollview { display: flex; align-items: flex-start; border: 1px solid #bbb; background: #fff; max-width: 100%; }
.rollview svg.keys { flex: none; border-right: 1px solid #888; }
.scroll { overflow-x: auto; flex: 1 1 auto; min-width: 0; }
.wide { overflow-x: auto; max-width: 100%; }
.scroll svg { display: block; cursor: pointer; }
svg.roll .playhead { stroke: #e0245e; stroke-width: 2; }
.player { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; margin: .5rem 0; }
.player audio { width: 26rem; max-width: 100%; }
.renderer, .small { color: #666; font-size: .85rem; margin: .2rem 0; }
.note { color: #a40; }
.columns { display: flex; gap: 2rem; flex-wrap: wrap; align-items: flex-start; margin-top: .6rem; }
table { border-collapse: collapse; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
td, th { padding: .15rem .7rem .15rem 0; text-align: left; vertical-align: middle; }
table.ranking td, table.ranking th { padding: .25rem .8rem; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
table.ranking th { background: #eee; white-space: nowrap; }
table.ranking th[data-sort] { cursor: pointer; }
table.ranking tr.best td { background: #eefbea; }
.within { color: #1f7a1f; font-weight: 600; }
.outside { color: #b3261e; font-weight: 600; }
.noband { color: #777; }
.fit { display: inline-block; border-radius: 1rem; padding: .05rem .6rem; font-weight: 600; }
.fit.all { background: #d9f5d3; color: #1f5f1f; } .fit.some { background: #fff1c7; color: #6b4e00; }
.fit.none { background: #fbd9d6; color: #7a1a12; }
.page img { height: 212px; image-rendering: pixelated; border: 1px solid #888; display: block; }
.loss img { max-width: 28rem; border: 1px solid #ccc; }
details { margin-top: .5rem; }
"""

SCRIPT = """
(function () {
  function number(cell) { var v = parseFloat(cell.getAttribute('data-value')); return isNaN(v) ? -Infinity : v; }
  document.querySelectorAll('table.ranking').forEach(function (table) {
    table.querySelectorAll('th[data-sort]').forEach(function (th) {
      var column = Array.prototype.indexOf.call(th.parentNode.children, th);
      th.title = 'sort by ' + th.textContent.trim();
      th.addEventListener('click', function () {
        var now = th.getAttribute('aria-sort');  // first click: the column's better end first; then reversed
        var ascending = now ? now !== 'ascending' : th.dataset.sort === 'up';
        table.querySelectorAll('th[aria-sort]').forEach(function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column];
          var d = th.dataset.type === 'text' ? x.textContent.localeCompare(y.textContent) : number(x) - number(y);
          return ascending ? d : -d;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll('section.piece').forEach(function (section) {
    var audio = section.querySelector('audio'), svg = section.querySelector('svg.roll');
    if (!audio || !svg) return;
    var head = svg.querySelector('.playhead'), scroller = svg.parentNode;
    var start = parseFloat(svg.dataset.start), perSecond = parseFloat(svg.dataset.pxPerSecond);
    var width = parseFloat(svg.getAttribute('width'));
    function place() {
      var x = Math.min(width, start + audio.currentTime * perSecond);
      head.setAttribute('x1', x); head.setAttribute('x2', x);
      head.style.visibility = 'visible';
      if (x < scroller.scrollLeft || x > scroller.scrollLeft + scroller.clientWidth - 40) {
        scroller.scrollLeft = Math.max(0, x - 40);
      }
    }
    function follow() { place(); if (!audio.paused && !audio.ended) requestAnimationFrame(follow); }
    ['timeupdate', 'seeked', 'play'].forEach(function (e) { audio.addEventListener(e, place); });
    audio.addEventListener('play', function () { requestAnimationFrame(follow); });
    svg.addEventListener('click', function (event) {
      var box = svg.getBoundingClientRect();
      var x = (event.clientX - box.left) * width / box.width;
      var seconds = Math.max(0, (x - start) / perSecond);
      if (isFinite(audio.duration)) seconds = Math.min(seconds, audio.duration);
      seek(seconds);
    });
    function seek(seconds) {
      var can = audio.seekable;
      if ((can.length && can.end(can.length - 1) >= seconds - 0.05) || audio.src.indexOf('blob:') === 0) {
        audio.currentTime = seconds; place(); return;
      }
      // a server that does not send byte ranges (python -m http.server) cannot seek: play from memory
      fetch(audio.currentSrc || audio.src).then(function (response) { return response.blob(); }).then(function (blob) {
        var playing = !audio.paused;
        audio.addEventListener('loadedmetadata', function once() {
          audio.removeEventListener('loadedmetadata', once);
          audio.currentTime = seconds; place();
          if (playing) audio.play();
        });
        audio.src = URL.createObjectURL(blob);
      }).catch(function () { audio.currentTime = seconds; place(); });
    }
  });
})();
"""


def records(out_dir: Path) -> list[dict[str, Any]]:
    """The JSON record of every composed piece in a folder, newest first; other JSON files are ignored."""
    found = []
    paths = sorted(Path(out_dir).glob("*.json"), key=lambda p: (-p.stat().st_mtime_ns, p.name))
    for path in paths:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("kind") == "composition" and "files" in record:
            found.append(record)
    return found


def write_index(out_dir: Path) -> Path:
    """Rewrite ``out_dir/index.html`` from the records there; written under a temporary name, then renamed."""
    out_dir = Path(out_dir)
    models: dict[str, Model] = {}
    pieces = []
    for record in records(out_dir):
        path = str((record.get("bundle") or {}).get("path"))
        if path not in models:
            models[path] = Model(path, record.get("bundle") or {}, out_dir)
        pieces.append(Piece(record, out_dir, models[path]))
    if pieces:
        body = (f"{INTRO}\n{_ranking(pieces)}\n" + "\n".join(piece.section() for piece in pieces)
                + "\n<h2>Models</h2>\n" + "\n".join(model.section() for model in models.values()))
    else:
        body = "<p>Nothing composed yet: run <code>make compose</code>.</p>"
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>pianoroll: {len(pieces)} composed pieces</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n<h1>Composed pieces</h1>\n{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n")
    path = out_dir / INDEX
    write_atomic(path, page.encode("utf-8"))
    return path


INTRO = """<p class="intro">Each piece was composed by a model trained on real music. <b>To find the piece
that sounds most like that music</b>, look at the table: a piece that keeps within all the bands of the
training music (how often the notes change, how long they are held, how full each quarter of the piece
is) comes first; among those, the one with the smallest distance from the training music's figures.
Click a column's heading to sort by it, and a piece's name to see and hear it. In each roll, time runs
left to right (bar numbers on top, counted as in the MIDI file), pitch bottom to top (middle C is C4);
the shaded columns on the left are the primer, the opening the model was given, which is not part of
the piece. Click a roll to play from there.</p>"""


# --- pitches and numbers ---------------------------------------------------------------------


def pitch_name(pitch: int) -> str:
    """A MIDI pitch as a note name with its octave: 60 is C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _show(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return "–" if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _link(file_name: str) -> str:
    return html.escape(quote(file_name))


def _e(value: Any) -> str:
    return html.escape(str(value))


# --- the model -------------------------------------------------------------------------------


class Model:
    """A bundle the pieces came from: its training music's figures, held-out figures and loss curve."""

    def __init__(self, path: str, summary: dict[str, Any], out_dir: Path):
        self.path, self.summary, self.out_dir = path, summary, out_dir
        self.folder = _find_folder(path, out_dir)
        self.config = None if self.folder is None else _read_config(self.folder / "config.json")
        music = self.config.data.music if self.config else None
        self.music: dict[str, Any] = dataclasses.asdict(music) if music else {}
        self.anchor = "model-" + "".join(c if c.isalnum() else "-" for c in path)
        self._primers: dict[str, np.ndarray | None] = {}

    @property
    def name(self) -> str:
        return Path(self.path).name or self.path

    def held_out(self) -> dict[str, Any]:
        recorded = self.config.metrics if self.config else None
        return self.summary.get("held_out") or (dataclasses.asdict(recorded.held_out) if recorded else {})

    def loss_src(self) -> str | None:
        """loss.png by a relative link if the bundle is inside the output folder, else as a data: URI.

        Not linked from beside the folder either: served on its own (``python -m http.server -d output``)
        or copied, the folder must still show it.
        """
        if self.folder is None or not (self.folder / "loss.png").is_file():
            return None
        loss = (self.folder / "loss.png").resolve()
        out = self.out_dir.resolve()
        if out in loss.parents:
            return _link(loss.relative_to(out).as_posix())
        return "data:image/png;base64," + base64.b64encode(loss.read_bytes()).decode("ascii")

    def section(self) -> str:
        held = self.held_out()
        figures = "".join(f"<tr><th>{label}</th><td>{_e(_show(held.get(key), 4))}</td>"
                          f"<td class=\"small\">{hint}</td></tr>" for key, label, hint in HELD_OUT if key in held)
        held_table = (f"<table><caption>Held-out figures <span class=\"small\">(predicting the next column "
                      f"of pieces it never trained on)</span></caption>{figures}</table>" if figures else
                      "<p class=\"small\">No held-out figures in this model's record.</p>")
        music = "".join(f"<tr><th>{label}</th><td>{_e(show)}</td></tr>" for label, show in (
            ("notes sounding at once (density)", _show(_number(self.music.get("density")))),
            ("share of columns that change", _percent(_number(self.music.get(CHANGE))))
            if CHANGE in self.music else ("", ""),
            ("longest held note", f"{_show(_number(self.music.get(LONGEST)))} beats")
            if LONGEST in self.music else ("", "")) if label)
        music_table = (f"<table><caption>Its training music</caption>{music}</table>" if self.music else
                       "<p class=\"small\">The training music's figures are not known (no <code>data.music</code> "
                       "in the model's config.json, or the model folder is not found), so pieces are shown "
                       "without bands.</p>")
        src = self.loss_src()
        loss = (f'<figure class="loss"><img src="{src}" alt="training and validation loss of {_e(self.name)} '
                f'per epoch"><figcaption class="small">Loss per epoch (loss.png)</figcaption></figure>'
                if src else '<p class="small">No loss.png in the model folder.</p>')
        facts = ", ".join(f"{key} {_e(self.summary[key])}" for key in ("arch", "loss", "epochs", "resolution")
                          if self.summary.get(key) is not None)
        return (f'<section class="model" id="{_e(self.anchor)}">\n<h2>Model <code>{_e(self.path)}</code></h2>\n'
                f'<p class="small">{facts}</p>\n<div class="columns">{held_table}{music_table}{loss}</div>\n'
                f'</section>')

    def primer(self, source: str, padded: int, resolution: float) -> np.ndarray | None:
        """The primer's WINDOW columns as a roll, rebuilt from its source; None when they cannot be found."""
        key = f"{source}\n{padded}\n{resolution}"
        if key not in self._primers:
            try:
                self._primers[key] = self._find_primer(source, resolution)
            except (PianorollError, OSError, ValueError, KeyError, IndexError):
                self._primers[key] = None
        return self._primers[key]

    def _find_primer(self, source: str, resolution: float) -> np.ndarray | None:
        from pianoroll import compose

        if source == compose.SILENCE_PRIMER:
            return rolls.empty(WINDOW)
        if Path(source).is_file():
            return rolls.from_frames(compose.file_primer(Path(source), resolution).frames)
        piece, at, start = source.rpartition("@")
        if not at or not start.isdigit():
            return None
        images = Path(self.config.data.images if self.config else "")
        folder = _find_folder(str(images), self.out_dir, self.folder)
        if folder is None:
            return None
        for entry in pages.read_manifest(folder):
            if entry.ok and entry.piece == piece and math.isclose(entry.resolution, resolution):
                roll = pages.join([folder / pages.page_name(piece, i) for i in range(entry.pages)], entry.columns)
                return rolls.from_frames(compose.fit_window(roll, source, int(start)).frames)
        return None


def _read_config(path: Path) -> BundleConfig | None:
    """A bundle's config, or None where it is missing or broken: the gallery then shows its pieces without bands."""
    try:
        config = json.loads(path.read_text())
        return BundleConfig.from_json(config, path) if isinstance(config, dict) else None
    except (OSError, ValueError, BundleError):
        return None


def _find_folder(path: str, out_dir: Path, bundle: Path | None = None) -> Path | None:
    """A folder named in a record: as given (from where compose ran), or beside the output or the bundle folder."""
    if not path or path == "None":
        return None
    given = Path(path)
    places = [given, out_dir / given, out_dir.parent / given]
    if bundle is not None:
        places += [bundle / given, *(parent / given for parent in bundle.resolve().parents[:3])]
    return next((place for place in places if place.is_dir()), None)


# --- a piece ---------------------------------------------------------------------------------


class Piece:
    """One composed piece: its roll, its measures against the training music's bands, its section of the page."""

    def __init__(self, record: dict[str, Any], out_dir: Path, model: Model):
        self.record, self.out_dir, self.model = record, out_dir, model
        self.name = str(record.get("name", ""))
        self.anchor = "piece-" + "_".join(self.name.split())  # an id holds no spaces
        self.files = record["files"]
        bundle = record.get("bundle") or {}
        self.resolution = float(bundle.get("resolution") or (model.config.resolution if model.config else None)
                                or rolls.DEFAULT_RESOLUTION)
        self.bpm = float((record.get("options") or {}).get("bpm") or DEFAULT_BPM)
        try:
            self.roll = pages.read_image(out_dir / self.files["png"])
        except (PianorollError, OSError):
            self.roll = None
        self.measures = record.get("measures") or self._measure()
        primer = record.get("primer") or {}
        self.primer_source = str(primer.get("source") or "unknown")
        self.primer = model.primer(self.primer_source, int(primer.get("padded") or 0), self.resolution)
        self.checks = self._checks()

    def _measure(self) -> dict[str, Any]:
        if self.roll is None:
            return {}
        from pianoroll import measures

        return measures.piece_measures(self.roll, self.resolution).to_dict()

    # the bands

    def _checks(self) -> list[Check]:
        """Each music measure beside the training music's band, if the model's config gives one."""
        m, music = self.measures, self.model.music
        checks = []
        change, target = _number(m.get(CHANGE)), _number(music.get(CHANGE))
        band = (CHANGE_BAND[0] * target, CHANGE_BAND[1] * target) if target is not None else None
        checks.append(Check("Changes", "share of columns that differ from the one before", change, band,
                            _percent, target, "from {0} to {1}"))
        longest, target = _number(m.get(LONGEST)), _number(music.get(LONGEST))
        checks.append(Check("Longest held note", "in beats", longest, (0.0, target) if target is not None else None,
                            lambda v: f"{_show(v)} beats", target, "at most {1}"))
        chords, target = _number(m.get(CHORDS)), _number(music.get(CHORDS))
        band = (CHANGE_BAND[0] * target, min(1.0, CHANGE_BAND[1] * target)) if target is not None else None
        checks.append(Check("Chord share", "share of sounding columns that form one chord", chords, band,
                            _percent, target, "from {0} to {1}"))
        target = _number(music.get("density"))
        band = (target * (1 - DENSITY_BAND), target * (1 + DENSITY_BAND)) if target is not None else None
        for number, value in enumerate(m.get(DENSITY) or [], start=1):
            checks.append(Check(f"Density, quarter {number}", "notes sounding at once, on average", _number(value),
                                band, lambda v: _show(v), target, "from {0} to {1}"))
        return checks

    def banded(self) -> list[Check]:
        return [check for check in self.checks if check.within is not None]

    def fit(self) -> tuple[int, int]:
        """(bands kept, bands): the density quarters count as one band, kept only if all four are."""
        kept = total = 0
        quarters = [c for c in self.banded() if c.label.startswith("Density")]
        for check in self.banded():
            if not check.label.startswith("Density"):
                kept, total = kept + bool(check.within), total + 1
        if quarters:
            kept, total = kept + all(c.within for c in quarters), total + 1
        return kept, total

    def distance(self) -> float | None:
        """How far the piece is from the training music: the mean relative difference from its figures."""
        parts = []
        for label in ("Changes", "Chord share"):
            check = next((c for c in self.banded() if c.label == label), None)
            if check is not None and check.target:
                parts.append(abs(check.value / check.target - 1))
        longest = next((c for c in self.banded() if c.label == "Longest held note"), None)
        if longest is not None and longest.target:
            parts.append(max(0.0, longest.value / longest.target - 1))
        quarters = [c for c in self.banded() if c.label.startswith("Density") and c.target]
        if quarters:
            parts.append(float(np.mean([abs(c.value / c.target - 1) for c in quarters])))
        return float(np.mean(parts)) if parts else None

    # the page

    def section(self) -> str:
        name = _e(self.name)
        if self.files.get("wav"):
            player = (f'<audio controls preload="metadata" src="{_link(self.files["wav"])}" '
                      f'aria-label="audio of {name}"></audio>')
            if self.record.get("renderer"):  # fluidsynth with FluidR3, or the pip fallback: they sound different
                player += f'\n<p class="renderer">Played by {_e(self.record["renderer"])}</p>'
        else:
            player = f'<p class="note">No audio: {_e(self.record.get("audio") or "not rendered")}</p>'
        kept, total = self.fit()
        fit = _fit_badge(kept, total)
        options = {**(self.record.get("options") or {}), "seed": self.record.get("seed"),
                   "primer": self.primer_source}
        for unused in MODE_OPTIONS.get(options.get("mode"), ()):
            options.pop(unused, None)
        option_rows = "".join(f"<tr><th>{_e(key.replace('_', ' '))}</th><td>{_e(_show(options[key], 4))}</td></tr>"
                              for key in OPTIONS if key in options)
        return (f'<section class="piece" id="{_e(self.anchor)}">\n<h2>{name} {fit}</h2>\n'
                f'{self.roll_view()}\n<div class="player">{player}</div>\n'
                f'<p class="small"><a href="{_link(self.files["midi"])}">MIDI file</a> · composed by model '
                f'<a href="#{_e(self.model.anchor)}"><code>{_e(self.model.path)}</code></a> · primer '
                f'<code>{_e(self.primer_source)}</code></p>\n'
                f'<div class="columns">{self.checks_table()}{self.more_table()}'
                f'<figure class="page"><img src="{_link(self.files["png"])}" alt="the PNG page of {name}">'
                f'<figcaption class="small">The page (PNG) as the model reads it</figcaption></figure></div>\n'
                f'<details><summary>Options</summary><table>{option_rows}</table></details>\n</section>')

    def checks_table(self) -> str:
        rows = []
        for check in self.checks:
            if check.within is None:
                verdict = '<td class="noband">no band</td>'
            else:
                verdict = f'<td class="{"within" if check.within else "outside"}">' \
                          f'{"✓ within" if check.within else "✗ outside"}</td>'
            rows.append(f'<tr><th title="{_e(check.meaning)}">{_e(check.label)}</th>'
                        f'<td>{_e(check.show(check.value) if check.value is not None else "–")}</td>'
                        f'<td>{check.meter()}</td><td class="small">{_e(check.band_text())}</td>{verdict}</tr>')
        return ('<table class="checks"><caption>Against the training music</caption>'
                '<tr><th></th><th>this piece</th><th></th><th>training music</th><th></th></tr>'
                + "".join(rows) + "</table>")

    def more_table(self) -> str:
        m, stats = self.measures, self.record.get("statistics") or {}
        rows = [("notes", _show(m.get("notes"))), ("length", f"{_show(m.get('beats'))} beats"),
                ("notes at once (when any sound)", _show(_number(m.get("polyphony")))),
                ("pitch range", f"{_show(m.get('pitch_range'))} semitones"
                 + (f" ({pitch_name(int(stats['lowest_pitch']))}–{pitch_name(int(stats['highest_pitch']))})"
                    if stats.get("lowest_pitch") is not None and stats.get("highest_pitch") is not None else "")),
                ("mean note", f"{_show(_number(m.get('mean_note_beats')))} beats"),
                ("silent columns", _percent(_number(m.get("empty_share")))),
                ("in stretches of a bar or more with voices dropped out", _percent(_number(m.get("thin_share"))))]
        body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        lengths = m.get("note_lengths")
        if lengths:
            from pianoroll.measures import NOTE_LENGTH_LABELS

            body += (f'<tr><th>note lengths (beats)</th><td>{_histogram(lengths, NOTE_LENGTH_LABELS)}</td></tr>')
        return f'<table class="more"><caption>More about it</caption>{body}</table>'

    def roll_view(self) -> str:
        """The keyboard axis and the scrolling roll, both inline SVG: readable without scripts."""
        if self.roll is None:
            return f'<p class="note">The roll {_e(self.files["png"])} could not be read.</p>'
        primer = self.primer if self.primer is not None else rolls.empty(WINDOW)
        low, high = _shown_range([self.roll, primer])
        column = max(COLUMN_PX[0], min(COLUMN_PX[1], round(BEAT_PX * self.resolution)))
        rows = high - low + 1
        height = HEADER_PX + rows * ROW_PX
        lead = WINDOW * column  # the primer's width: the piece starts here
        width = lead + self.roll.shape[0] * column
        y = lambda pitch: HEADER_PX + (high - pitch) * ROW_PX  # noqa: E731  the top of a pitch's row
        parts = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
        parts += [f'<rect x="0" y="{y(p)}" width="{width}" height="{ROW_PX}" fill="#eef1f5"/>'
                  for p in range(low, high + 1) if p % 12 in BLACK_KEYS]
        parts.append(f'<rect class="primer" x="0" y="0" width="{lead}" height="{height}" fill="#f3e3c0" '
                     f'fill-opacity="0.75"><title>primer: {_e(self.primer_source)}</title></rect>')
        per_beat = 1 / self.resolution
        per_bar = BAR_BEATS / self.resolution
        for index in range(self.roll.shape[0] + 1):  # beat and bar lines, counted from the piece's start
            bar, beat = index % per_bar < 1e-9 or per_bar - index % per_bar < 1e-9, \
                index % per_beat < 1e-9 or per_beat - index % per_beat < 1e-9
            if bar or beat:
                x = lead + index * column
                parts.append(f'<line x1="{x}" y1="{HEADER_PX if not bar else 0}" x2="{x}" y2="{height}" '
                             f'stroke="{"#8795a8" if bar else "#dde2e8"}" stroke-width="1"/>')
                if bar and index < self.roll.shape[0]:
                    parts.append(f'<text x="{x + 3}" y="12" class="bar">{round(index / per_bar) + 1}</text>')
        for pitch in range(low, high + 1):
            if pitch % 12 == 0:  # octave lines under every C
                parts.append(f'<line x1="0" y1="{y(pitch) + ROW_PX}" x2="{width}" y2="{y(pitch) + ROW_PX}" '
                             f'stroke="#b4bfcc" stroke-width="1"/>')
        parts.append(f'<line x1="{lead}" y1="0" x2="{lead}" y2="{height}" stroke="#b5651d" stroke-width="2"/>')
        parts.append('<text x="3" y="12" class="primer-label">primer</text>')
        parts += self._bars(primer, 0, column, y, "#a89a7c", "primer")
        parts += self._bars(self.roll, lead, column, y, "#2a62c9", "")
        parts.append(f'<line class="playhead" x1="{lead}" y1="0" x2="{lead}" y2="{height}" '
                     f'style="visibility: hidden"/>')
        seconds = self.roll.shape[0] * self.resolution * 60 / self.bpm
        per_second = self.bpm / 60 / self.resolution * column
        missing = "" if self.primer is not None else (
            f'<p class="small">The primer\'s notes ({_e(self.primer_source)}) could not be found: '
            f'its place is shaded, empty.</p>')
        roll = (f'<svg class="roll" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" data-start="{lead}" data-px-per-second="{per_second:.6g}" '
                f'font-family="system-ui, sans-serif" font-size="10" role="img" '
                f'aria-label="piano roll of {_e(self.name)}: {self.roll.shape[0]} columns, {seconds:.1f} s">'
                f'<style>.bar{{fill:#44546a}} .primer-label{{fill:#7a5a1a}}</style>'
                + "".join(parts) + "</svg>")
        return (f'<div class="rollview">{self._keys(low, high)}<div class="scroll">{roll}</div></div>\n'
                f'<p class="small">{self.roll.shape[0]} columns, {_show(self.roll.shape[0] * self.resolution)} '
                f'beats, {seconds:.1f} s at {_show(self.bpm)} bpm; shaded: the primer '
                f'<code>{_e(self.primer_source)}</code>, before the piece.</p>{missing}')

    def _bars(self, roll: np.ndarray, left: int, column: int, y, colour: str, what: str) -> list[str]:
        bars = []
        for note in rolls.to_notes(roll, self.resolution):
            start, end = round(note.start / self.resolution), round(note.end / self.resolution)
            title = (f"{pitch_name(note.pitch)}, {what + ', ' if what else ''}beat {_show(note.start + 1)}, "
                     f"{_show(note.end - note.start)} beats")
            bars.append(f'<rect class="note{" primer" if what else ""}" x="{left + start * column + 0.5}" y="{y(note.pitch) + 0.5}" '
                        f'width="{max(1, (end - start) * column - 1)}" height="{ROW_PX - 1}" rx="1.5" '
                        f'fill="{colour}"><title>{_e(title)}</title></rect>')
        return bars

    def _keys(self, low: int, high: int) -> str:
        height = HEADER_PX + (high - low + 1) * ROW_PX
        parts = [f'<rect x="0" y="0" width="{KEYS_PX}" height="{height}" fill="#fff"/>']
        for pitch in range(low, high + 1):
            top = HEADER_PX + (high - pitch) * ROW_PX
            if pitch % 12 in BLACK_KEYS:
                parts.append(f'<rect x="{KEYS_PX - 16}" y="{top}" width="16" height="{ROW_PX}" fill="#333"/>')
            if pitch % 12 == 0:
                parts.append(f'<line x1="0" y1="{top + ROW_PX}" x2="{KEYS_PX}" y2="{top + ROW_PX}" stroke="#999"/>')
                parts.append(f'<text x="2" y="{top + ROW_PX}" font-size="10">{pitch_name(pitch)}</text>')
        return (f'<svg class="keys" xmlns="http://www.w3.org/2000/svg" width="{KEYS_PX}" height="{height}" '
                f'font-family="system-ui, sans-serif" role="img" aria-label="keyboard: '
                f'{pitch_name(low)} to {pitch_name(high)}">' + "".join(parts) + "</svg>")


def _shown_range(shown: list[np.ndarray]) -> tuple[int, int]:
    """The pitches drawn: C2..C7, widened to whole octaves to take in every note."""
    low, high = SHOWN_PITCHES
    for roll in shown:
        sounding = np.flatnonzero(rolls.is_on(roll).any(axis=0))
        if sounding.size:
            low = min(low, (int(sounding[0]) + LOWEST_PITCH) // 12 * 12)
            high = max(high, -(-(int(sounding[-1]) + LOWEST_PITCH) // 12) * 12)
    return max(LOWEST_PITCH, low), min(LOWEST_PITCH + PITCHES - 1, high)


class Check:
    """A measure of a piece beside a band of the training music (None: no band to compare with)."""

    def __init__(self, label: str, meaning: str, value: float | None, band: tuple[float, float] | None,
                 show, target: float | None, band_format: str):
        self.label, self.meaning, self.value, self.band, self.show = label, meaning, value, band, show
        self.target, self.band_format = target, band_format
        self.within = None if band is None or value is None else band[0] - 1e-9 <= value <= band[1] + 1e-9

    def band_text(self) -> str:
        if self.band is None:
            return "no figure for the training music"
        return self.band_format.format(*(self.show(edge) for edge in self.band))

    def meter(self) -> str:
        """A small scale: the band shaded, the piece's value a mark, the training music's a line."""
        width, height = 120, 14
        if self.value is None:
            return ""
        top = max(v for v in (self.value, *(self.band or ()), self.target or 0) if v is not None) * 1.15 or 1
        x = lambda v: round(2 + v / top * (width - 4), 1)  # noqa: E731
        parts = [f'<line x1="2" y1="{height - 3}" x2="{width - 2}" y2="{height - 3}" stroke="#bbb"/>']
        if self.band is not None:
            parts.append(f'<rect x="{x(self.band[0])}" y="2" width="{max(1, x(self.band[1]) - x(self.band[0]))}" '
                         f'height="{height - 4}" fill="#cdeccb"/>')
        if self.target is not None:
            parts.append(f'<line x1="{x(self.target)}" y1="1" x2="{x(self.target)}" y2="{height - 1}" '
                         f'stroke="#4a7c49" stroke-dasharray="2 1"/>')
        colour = {True: "#1f7a1f", False: "#b3261e", None: "#555"}[self.within]
        parts.append(f'<circle cx="{x(self.value)}" cy="{height / 2}" r="4" fill="{colour}"/>')
        return (f'<svg class="meter" width="{width}" height="{height}" role="img" aria-label="'
                f'{_e(self.label)}: {_e(self.show(self.value))}, band {_e(self.band_text())}">'
                + "".join(parts) + "</svg>")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _fit_badge(kept: int, total: int) -> str:
    if not total:
        return '<span class="fit none" title="no bands: the training music\'s figures are not known">no bands</span>'
    kind = "all" if kept == total else "some" if kept else "none"
    return f'<span class="fit {kind}">within {kept} of {total} bands</span>'


def _histogram(shares: list[float], labels: tuple[str, ...]) -> str:
    width, bar, height = len(shares) * 26, 22, 40
    top = max(max(shares), 1e-9)
    parts = []
    for index, (share, label) in enumerate(zip(shares, labels)):
        h = round(share / top * (height - 14), 1)
        parts.append(f'<rect x="{index * 26 + 2}" y="{height - 12 - h}" width="{bar}" height="{h}" fill="#2a62c9">'
                     f'<title>{_e(label)} beats: {share:.0%} of the notes</title></rect>'
                     f'<text x="{index * 26 + 13}" y="{height - 2}" text-anchor="middle" font-size="8">'
                     f'{_e(label)}</text>')
    return (f'<svg class="histogram" width="{width}" height="{height}" font-family="system-ui, sans-serif" '
            f'role="img" aria-label="note lengths">' + "".join(parts) + "</svg>")


def _ranking(pieces: list[Piece]) -> str:
    """The table of pieces, closest to the training music first; sortable by any column with scripts on."""
    def order(piece: Piece):
        kept, total = piece.fit()
        distance = piece.distance()
        return (-(kept / total) if total else 0, math.inf if distance is None else distance, piece.name)

    ranked = sorted(pieces, key=order)
    rows = []
    for rank, piece in enumerate(ranked, start=1):
        kept, total = piece.fit()
        distance = piece.distance()
        checks = {check.label: check for check in piece.checks}
        quarters = [c.value for c in piece.checks if c.label.startswith("Density") and c.value is not None]
        held = piece.model.held_out()

        def cell(label: str) -> str:
            check = checks.get(label)
            if check is None or check.value is None:
                return '<td data-value="">–</td>'
            mark = "" if check.within is None else (" ✓" if check.within else " ✗")
            kind = "" if check.within is None else f' class="{"within" if check.within else "outside"}"'
            return f'<td data-value="{check.value:.6g}"{kind}>{_e(check.show(check.value))}{mark}</td>'

        density_kept = [c.within for c in piece.checks if c.label.startswith("Density") and c.within is not None]
        density_class = "" if not density_kept else f' class="{"within" if all(density_kept) else "outside"}"'
        best = rank == 1 and total and kept == total
        best_class = ' class="best"' if best else ""
        rows.append(
            f'<tr{best_class}><td data-value="{rank}">{rank}</td>'
            f'<td><a href="#{_e(piece.anchor)}">{_e(piece.name)}</a>{" ★ closest" if best else ""}</td>'
            f'<td data-value="{kept / total if total else -1:.6g}">{_fit_badge(kept, total)}</td>'
            f'<td data-value="{"" if distance is None else f"{distance:.6g}"}">'
            f'{"–" if distance is None else f"{distance:.0%}"}</td>'
            f'{cell("Changes")}{cell("Longest held note")}{cell("Chord share")}'
            f'<td data-value="{f"{np.mean(quarters):.6g}" if quarters else ""}"{density_class}>'
            f'{_e(" · ".join(_show(q, 2) for q in quarters)) or "–"}</td>'
            f'<td data-value="{_number(held.get("f1")) if _number(held.get("f1")) is not None else ""}">'
            f'{_e(_show(_number(held.get("f1")), 3))}</td>'
            f'<td><a href="#{_e(piece.model.anchor)}">{_e(piece.model.name)}</a></td></tr>')
    music = next((piece.model.music for piece in pieces if piece.model.music), {})
    target = (f"training music: changes {_percent(_number(music.get(CHANGE)))}, longest note "
              f"{_show(_number(music.get(LONGEST)))} beats, density {_show(_number(music.get('density')))}"
              if music else "no training music figures")
    return ('<div class="wide"><table class="ranking"><caption>The pieces, closest to the training music first '
            f'<span class="small">({_e(target)})</span></caption>\n<thead><tr>'
            '<th data-sort="up">#</th><th data-sort="up" data-type="text">piece</th>'
            '<th data-sort="down" title="how many of the training music\'s bands the piece keeps within">'
            'bands</th><th data-sort="up" title="mean relative difference from the training music\'s figures">'
            'distance</th><th data-sort="down">changes</th><th data-sort="down">longest note</th>'
            '<th data-sort="down">chord share</th><th data-sort="down">density by quarter</th>'
            '<th data-sort="down" title="the model\'s held-out F1: higher is better">model F1</th>'
            '<th data-sort="up" data-type="text">model</th></tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>")
