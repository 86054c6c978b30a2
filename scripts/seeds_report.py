"""The four systems side by side: the default and the three event networks of the seed documents (reports/seeds.md).

Each system's composed pieces (a folder `pianoroll compose` wrote) are measured
against the same real pieces, the default bundle's held-out chorales, exactly
as `pianoroll evaluate --composed DIR` measures them (``evaluate.music_summary``
and ``evaluate.against_real``). Held-out likelihoods come from each bundle's
config.json, in each network's own terms. Timings are /usr/bin/time records
(``{"wall_s", "user_s", "sys_s"}``), one per training and per composing run.

    python scripts/seeds_report.py --composed /tmp/seeds_out --timings /tmp/seeds_train   # measure → reports/seeds.json
    python scripts/seeds_report.py --render                                               # reports/seeds.json → tables

The tables go between the markers in reports/seeds.md; the text around them is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pianoroll import bundle, evaluate  # noqa: E402

# (row, bundle models/<name>, folder of composed pieces <composed>/<folder>): each event network by sampling at
# temperature 1 (its default) and by its seed's own rule (--mode seed); for messages the seed's rule is that same
# draw, so it has no row of its own
SYSTEMS = (("default", "default", "default"), ("tokens", "tokens", "tokens"), ("notes", "notes", "notes"),
           ("messages", "messages", "messages"), ("tokens, seed rule", "tokens", "tokens-seed"),
           ("notes, seed rule", "notes", "notes-seed"))
REFERENCE = "default"  # whose held-out pieces are the real music every system is measured against
BEGIN, END = "<!-- tables: begin (scripts/seeds_report.py) -->", "<!-- tables: end -->"
JSON_OUT, MARKDOWN = REPO / "reports/seeds.json", REPO / "reports/seeds.md"


def timing(path: Path) -> dict[str, float] | None:
    """A /usr/bin/time record with the CPU time (user + system) added, or None when the run was not timed."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return {**record, "cpu_s": record["user_s"] + record["sys_s"]}


def measure(models: Path, composed_root: Path, timings: Path, seed: int = 0) -> dict[str, Any]:
    """Every system's music measures against the reference's held-out pieces, its held-out figures and timings."""
    reference = bundle.read_config(models / REFERENCE)
    _, held_out, names = evaluate.bundle_pieces(reference)
    real = evaluate.music_summary(held_out, reference.resolution)
    longest = reference.data.music.longest_note_beats if reference.data.music else None
    result = {"held_out_pieces": names, "real": _plain(real), "systems": []}
    for row, name, folder in SYSTEMS:
        config = bundle.read_config(models / name)
        if tuple(config.data.held_out_pieces) != tuple(names):
            raise SystemExit(f"models/{name}: held out other pieces than models/{REFERENCE}")
        frames = evaluate.composed_frames(composed_root / folder)
        summary = evaluate.music_summary(frames, config.resolution)
        result["systems"].append({
            "row": row, "arch": config.arch, "epochs": config.epochs, "held_out": config.metrics.figures(),
            "music": _plain({**summary, **evaluate.against_real(summary, real, seed, longest)}),
            "train_time": timing(timings / f"{name}.time"), "compose_time": timing(timings / f"compose_{folder}.time"),
            "composed": {"pieces": len(frames), "columns": int(sum(len(f) for f in frames))},
        })
    return result


def _plain(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with its per-piece measures as plain dicts and without the density profile."""
    return {key: ([m.to_dict() for m in value] if key == "measures" else value)
            for key, value in summary.items() if key != "profile"}


def figure(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def music_table(result: dict[str, Any]) -> list[str]:
    """The music measures of each system's pieces and of the real held-out pieces, as evaluate reports them."""
    lines = ["| system | classifier accuracy (0.5 = like real) | chord share | changes | longest note (beats) | "
             "density by quarter | pitch-class distance | goals met (all / of) |",
             "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    rows = [("real (held out)", result["real"])] + [(s["row"], s["music"]) for s in result["systems"]]
    for name, m in rows:
        features = m["features"]
        goals = m.get("goals")
        lines.append(
            f"| {name} | {figure(m.get('classifier_accuracy'))} | {figure(features['chord_share'])} | "
            f"{figure(features['change_share'])} | {figure(features['longest_note_beats'], 1)} | "
            f"{' / '.join(figure(d) for d in m['density_by_quarter'])} | {figure(m.get('pitch_class_distance'))} | "
            f"{_goals(goals)} |")
    return lines


def systems_table(result: dict[str, Any]) -> list[str]:
    """Held-out figures in each network's own terms, and what training and composing cost."""
    lines = ["| system | epochs | held-out figure (its own terms) | training: wall / CPU | "
             "composing 10 × 424 columns: wall / CPU |", "| --- | ---: | --- | --- | --- |"]
    for s in result["systems"]:
        held = s["held_out"]
        own = (f"{held['nll']:.3f} nats/frame (NADE: exact)" if "nll" in held else
               f"loss {held['loss']:.3f}, NLL {held['nll_per_event']:.3f} nats/event ({held['events']} events)")
        train, compose = s["train_time"], s["compose_time"]
        lines.append(f"| {s['row']} | {s['epochs']} | {own} | {_time(train)} | {_time(compose)} |")
    return lines


def _goals(goals: dict[str, Any] | None) -> str:
    return "–" if goals is None else f"{goals['all']} / {goals['pieces']}"


def _time(record: dict[str, float] | None) -> str:
    if record is None:
        return "not timed here"
    return f"{record['wall_s']:.0f} s / {record['cpu_s']:.0f} s"


def render(result: dict[str, Any]) -> None:
    """Put the tables between the markers of reports/seeds.md (or start the file with them)."""
    tables = "\n".join([BEGIN, "", *systems_table(result), "", *music_table(result), "", END])
    text = MARKDOWN.read_text() if MARKDOWN.is_file() else f"# The four systems\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    MARKDOWN.write_text(head + tables + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--composed", type=Path, help="folder holding one folder of composed pieces per system")
    parser.add_argument("--timings", type=Path, help="folder of /usr/bin/time records: <system>.time, compose_<system>.time")
    parser.add_argument("--models", type=Path, default=REPO / "models", help="folder of the bundles (default: models)")
    parser.add_argument("--render", action="store_true", help="only turn reports/seeds.json into the tables")
    args = parser.parse_args()
    if not args.render:
        if args.composed is None or args.timings is None:
            parser.error("--composed and --timings are needed to measure (or give --render)")
        bundle.write_json(JSON_OUT, measure(args.models, args.composed, args.timings))
    render(json.loads(JSON_OUT.read_text()))


if __name__ == "__main__":
    main()
