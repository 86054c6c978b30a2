"""output/index.html: every composed piece on one page, to look at and listen to.

The page is rebuilt from the pieces' JSON records after every compose, so it
always lists exactly what the folder holds, however the pieces got there. It
uses relative links only and no scripts, so it works from ``file://`` and from
any static web server.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pianoroll.pages import write_atomic

INDEX = "index.html"
ROLL_HEIGHT_PX = 212  # each page row drawn two pixels high, sharp (image-rendering: pixelated)
OPTIONS = ("mode", "vanish", "vanish_inc", "threshold", "temperature", "max_notes",
           "length", "bpm", "seed", "primer")
MODE_OPTIONS = {  # options a mode does not use, left out
    "vanish": {"threshold", "temperature"}, "seed-vanish": {"threshold", "temperature"},
    "threshold": {"vanish", "vanish_inc", "temperature"}, "sample": {"vanish", "vanish_inc", "threshold"}}
STATISTICS = ("notes", "columns", "beats", "density", "mean_polyphony", "empty_fraction",
              "lowest_pitch", "highest_pitch", "density_by_quarter", "fade_ratio")

STYLE = f"""
body {{ font-family: system-ui, sans-serif; margin: 2rem; background: #fafafa; color: #222; }}
section {{ background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1rem; margin-bottom: 1.5rem; }}
.roll {{ overflow-x: auto; }}
.roll img {{ height: {ROLL_HEIGHT_PX}px; image-rendering: pixelated; display: block; border: 1px solid #888; }}
table {{ border-collapse: collapse; margin-top: .5rem; font-size: .9rem; }}
td, th {{ padding: .1rem .8rem .1rem 0; text-align: left; vertical-align: top; }}
.tables {{ display: flex; gap: 2rem; flex-wrap: wrap; }}
.note {{ color: #a40; }}
.renderer {{ color: #666; font-size: .85rem; margin: .2rem 0; }}
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
    pieces = records(out_dir)
    body = "\n".join(_piece(record) for record in pieces) or "<p>Nothing composed yet: run <code>make compose</code>.</p>"
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>pianoroll: {len(pieces)} composed pieces</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n<h1>Composed pieces</h1>\n{body}\n</body>\n</html>\n")
    path = out_dir / INDEX
    write_atomic(path, page.encode("utf-8"))
    return path


def _piece(record: dict[str, Any]) -> str:
    files = record["files"]
    name = html.escape(record.get("name", ""))
    if files.get("wav"):
        player = f'<audio controls preload="none" src="{_link(files["wav"])}"></audio>'
        if record.get("renderer"):  # fluidsynth with FluidR3, or the pip fallback: they sound different
            player += f'\n<p class="renderer">Played by {html.escape(str(record["renderer"]))}</p>'
    else:
        player = f'<p class="note">No audio: {html.escape(str(record.get("audio") or "not rendered"))}</p>'
    options = {**record.get("options", {}), "seed": record.get("seed"),
               "primer": record.get("primer", {}).get("source")}
    for unused in MODE_OPTIONS.get(options.get("mode"), ()):
        options.pop(unused, None)
    bundle = record.get("bundle", {})
    return (f'<section id="{name}">\n<h2>{name}</h2>\n'
            f'<div class="roll"><img src="{_link(files["png"])}" alt="piano roll of {name}"></div>\n'
            f'{player}\n<p><a href="{_link(files["midi"])}">MIDI</a> · model '
            f'<code>{html.escape(str(bundle.get("path")))}</code> ({html.escape(str(bundle.get("arch")))})</p>\n'
            f'<div class="tables">{_table("Options", options, OPTIONS)}'
            f'{_table("Statistics", record.get("statistics", {}), STATISTICS)}</div>\n</section>')


def _table(title: str, values: dict[str, Any], keys: tuple[str, ...]) -> str:
    rows = "".join(f"<tr><th>{key.replace('_', ' ')}</th><td>{html.escape(_show(values[key]))}</td></tr>"
                   for key in keys if key in values)
    return f"<table><caption>{title}</caption>{rows}</table>"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return "–" if value is None else str(value)


def _link(file_name: str) -> str:
    from urllib.parse import quote

    return html.escape(quote(file_name))
