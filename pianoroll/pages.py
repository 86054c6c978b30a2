"""Rolls ↔ 106×106 grayscale PNG pages, and the manifest that joins pages back into pieces.

A page is the roll turned to look like a piano roll: pitch on the vertical axis
with pitch 126 in row 0 and A0 (21) in the bottom row, time running left to
right. A piece longer than one page becomes ``<piece>_0000.png``,
``<piece>_0001.png``…; the last page is padded with silence and the manifest
records the true length, so pages join back exactly (no resampling: one
column is always one step of ``resolution`` quarter notes).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import struct
import warnings
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from pianoroll import PianorollError
from pianoroll import roll as rolls
from pianoroll.files import write_atomic
from pianoroll.roll import ON, ON_THRESHOLD, ONSET, PAGE_COLUMNS, PITCHES, SILENCE

MANIFEST = "manifest.csv"
MANIFEST_ENCODING = ("utf-8", "surrogateescape")  # a file name that is not UTF-8 survives the round trip byte for byte
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PAGE_COLUMNS = 100_000  # wider is no page we or a drawing program made; the header alone must not cost gigabytes
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # how Pillow gives 16-bit grayscale: 0..WIDE_WHITE
WIDE_WHITE = 65535


class PageError(PianorollError):
    """A page or manifest that cannot be used; the message names the file and the reason."""


class OutputError(PianorollError):
    """Our own output cannot be written (a full disk, a read-only folder): the batch stops, and no input is blamed."""


def page_name(piece: str, index: int) -> str:
    return f"{piece}_{index:04d}.png"


def to_image(roll: np.ndarray) -> np.ndarray:
    """A roll as one picture, PITCHES rows high and as wide as the roll: pitch 126 on top."""
    return np.ascontiguousarray(roll.T[::-1])


def to_pages(roll: np.ndarray) -> list[np.ndarray]:
    """Cut a roll into page images (PITCHES × PAGE_COLUMNS, uint8), the last padded with silence."""
    count = max(1, -(-roll.shape[0] // PAGE_COLUMNS))
    padded = rolls.empty(count * PAGE_COLUMNS)
    padded[: roll.shape[0]] = roll
    return [to_image(padded[i * PAGE_COLUMNS : (i + 1) * PAGE_COLUMNS]) for i in range(count)]


def write_image(image: np.ndarray, path: Path) -> None:
    """Save an 8-bit grayscale PNG under a temporary name, then rename: never half-written."""
    write_atomic(Path(path), encode_png(np.asarray(image, dtype=np.uint8)))


def encode_png(image: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a (rows, columns) uint8 array.

    A PNG is a signature and three chunks, so we write them ourselves: rows
    unfiltered, fastest zlib level. A roll is mostly runs of one value, so this
    stays under 1 kB a page and is about four times cheaper than Pillow's
    encoder, which tries every row filter; pages are what ``make images``
    spends its time on after parsing. Pillow reads them (the tests check).
    """
    rows, columns = image.shape
    scanlines = np.zeros((rows, columns + 1), dtype=np.uint8)  # each row starts with filter type 0
    scanlines[:, 1:] = image
    header = struct.pack(">IIBBBBB", columns, rows, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 1)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_pages(roll: np.ndarray, out_dir: Path, piece: str) -> list[Path]:
    """Write a piece's pages; pages left over from an older, longer version are removed."""
    paths = []
    for index, image in enumerate(to_pages(roll)):
        paths.append(Path(out_dir) / page_name(piece, index))
        write_image(image, paths[-1])
    stale = len(paths)
    while (Path(out_dir) / page_name(piece, stale)).exists():
        (Path(out_dir) / page_name(piece, stale)).unlink()
        stale += 1
    return paths


def read_image(path: Path) -> np.ndarray:
    """Any PNG PITCHES pixels high (grayscale of 8 or 16 bits, RGB or RGBA) as a roll; brighter than 50% is on.

    Transparent pixels count as silence, so a roll drawn on a transparent
    canvas reads as the user sees it. The size is checked from the header,
    before a pixel is decoded, so a header that claims billions of columns
    costs nothing; whatever else Pillow makes of a broken file is a PageError.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_size(img.size, path)
                gray = _brightness(img)
    except PageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PageError(f"{path}: far too many pixels for a page (Pillow: {error})") from None
    except Exception as error:  # Pillow fails on broken files in many ways: OSError, SyntaxError, zlib.error…
        raise PageError(f"{path}: not a readable PNG ({error or type(error).__name__})") from None
    pixels = gray[::-1].T
    return np.where(pixels > ON_THRESHOLD, np.where(pixels == ONSET, ONSET, ON), SILENCE).astype(np.uint8)


def _check_size(size: tuple[int, int], path: Path) -> None:
    columns, rows = size
    if rows != PITCHES:
        raise PageError(f"{path}: a page must be {PITCHES} pixels high, this one is {rows}")
    if columns > MAX_PAGE_COLUMNS:
        raise PageError(f"{path}: {columns:,} columns wide, above the limit of {MAX_PAGE_COLUMNS:,} columns a page")


def _brightness(img: Image.Image) -> np.ndarray:
    """The image as 8-bit brightness, transparent pixels black.

    Pillow's own conversion of 16-bit grayscale to 8 bits clips instead of
    scaling (a pixel at 0.5% of white would read as white), so wide modes
    are scaled here.
    """
    if img.mode in WIDE_MODES:
        wide = np.asarray(img).astype(np.float64)
        gray = np.clip(np.rint(wide * 255 / WIDE_WHITE), 0, 255).astype(np.uint8)
        transparent = img.info.get("transparency")
        if isinstance(transparent, int):
            gray[wide == transparent] = SILENCE
        return gray
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
        canvas = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(canvas, img)
    return np.asarray(img.convert("L"))


def read_page(path: Path) -> np.ndarray:
    """A page of the manifest as a roll: exactly PAGE_COLUMNS columns, or a PageError naming it."""
    page = read_image(path)
    if page.shape[0] != PAGE_COLUMNS:
        raise PageError(f"{path}: a page must be {PAGE_COLUMNS}×{PITCHES}, this one is {page.shape[0]}×{PITCHES}")
    return page


def join(paths: Iterable[Path], columns: int | None = None) -> np.ndarray:
    """Pages, in the given order, as one roll; ``columns`` cuts off the padding of the last page."""
    pages = [read_image(Path(p)) for p in paths]
    roll = np.concatenate(pages) if pages else rolls.empty(0)
    return roll if columns is None else roll[:columns]


@dataclasses.dataclass
class Entry:
    """One line of the manifest: a source file, and the piece it became (or why it did not)."""

    source: str
    piece: str = ""
    status: str = "ok"  # "ok" or "error"
    reason: str = ""
    pages: int = 0
    columns: int = 0  # the piece's true length in steps, before the last page's padding
    resolution: float = rolls.DEFAULT_RESOLUTION
    notes: int = 0
    dropped: int = 0  # notes outside pitches 21..126
    source_size: int = 0  # with source_mtime: how a re-run knows the pages are up to date
    source_mtime: float = 0.0
    options: str = ""  # what else shaped the pages ("onsets", "split"): a change means remaking them

    @property
    def ok(self) -> bool:
        return self.status == "ok"


FIELDS = [f.name for f in dataclasses.fields(Entry)]


def write_manifest(out_dir: Path, entries: Iterable[Entry]) -> Path:
    """Write the manifest atomically, sorted by source so re-runs give the same file."""
    path = Path(out_dir) / MANIFEST
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(FIELDS)
    for entry in sorted(entries, key=lambda e: (e.source, e.piece)):
        writer.writerow([getattr(entry, name) for name in FIELDS])  # a batch rewrites it every second
    write_atomic(path, text.getvalue().encode(*MANIFEST_ENCODING))
    return path


def read_manifest(images_dir: Path) -> list[Entry]:
    path = Path(images_dir) / MANIFEST
    if not path.is_file():
        raise PageError(f"{path}: no manifest (make one with `make images`)")
    types = {f.name: f.type for f in dataclasses.fields(Entry)}
    try:
        with open(path, newline="", encoding=MANIFEST_ENCODING[0], errors=MANIFEST_ENCODING[1]) as f:
            rows = list(csv.DictReader(f))
        return [Entry(**{k: _parse(types[k], v) for k, v in row.items()}) for row in rows]
    except (KeyError, TypeError, ValueError, csv.Error) as error:
        raise PageError(f"{path}: not a pianoroll manifest ({error})") from None
    except OSError as error:
        raise PageError(f"{path}: cannot be read ({error.strerror or error})") from None


def _parse(kind: str, text: str):
    return {"int": int, "float": float}.get(kind, str)(text)


def load_pieces(images_dir: Path) -> dict[str, tuple[np.ndarray, float]]:
    """Every converted piece of a folder as (roll, resolution), pages re-joined per the manifest.

    Raises PageError naming the first file that does not match the manifest,
    since training on a silently shortened piece would be worse than stopping.
    """
    images_dir = Path(images_dir)
    pieces = {}
    for entry in read_manifest(images_dir):
        if not entry.ok:
            continue
        paths = [images_dir / page_name(entry.piece, i) for i in range(entry.pages)]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise PageError(f"{missing[0]}: listed in the manifest but missing")
        pieces[entry.piece] = (np.concatenate([read_page(path) for path in paths])[: entry.columns], entry.resolution)
    if not pieces:
        raise PageError(f"{images_dir / MANIFEST}: no converted pieces (make some with `make images`)")
    return pieces
