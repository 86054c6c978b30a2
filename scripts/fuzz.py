"""A seeded fuzzer for the two doors hostile bytes come in by: MIDI files (``images``) and PNG pages (``image2midi``).

Real files are mutated (bit flips, truncations, inserted bytes, repeated
spans; for PNGs also a rewritten header and chunks whose CRCs are mended, so
the mutation reaches the decoder instead of stopping at the checksum) and run
in-process through the same calls the commands make. A PianorollError is the
right answer to a broken file; anything else, or a file that takes longer
than its time budget, is a failure, printed with what replays it:

    python scripts/fuzz.py --midi 10000 --png 1000 --seed 1
    python scripts/fuzz.py --replay midi:1000042

Exits 1 if anything failed. ``run`` is what tests/test_hostile.py calls.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pianoroll import PianorollError, cli, images, midi, pages  # noqa: E402
from pianoroll import roll as rolls  # noqa: E402
from pianoroll.roll import Note  # noqa: E402

BUDGET_S = 5.0  # seconds a single file may take: every legitimate failure is far quicker
CASES_PER_SEED = 1_000_000  # a case's own seed is seed * CASES_PER_SEED + its number: one case replays alone
PNG_CHUNK_HEADER = 8  # length and type


class OverBudget(BaseException):
    """A file took longer than BUDGET_S; a BaseException, so no ``except Exception`` in the code under test hides it."""


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Raise OverBudget in the main thread once ``seconds`` pass (SIGALRM: in-process, no worker to kill)."""

    def expire(signum: int, frame: object) -> None:
        raise OverBudget(f"over the budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def midi_seeds(folder: Path) -> list[bytes]:
    """music21's MIDI test files and two of our own writer's, as bytes."""
    import music21

    found = sorted(glob.glob(str(Path(music21.__file__).parent / "midi" / "testPrimitive" / "*.mid")))
    seeds = [Path(p).read_bytes() for p in found]
    midi.write([Note(40 + i % 50, i / 3, i / 3 + 1 + i % 4, 1 + i % 127) for i in range(60)], folder / "ours.mid")
    midi.write([Note(60, 0, 1), Note(60, 1, 2), Note(64, 0.5, 3)], folder / "small.mid", bpm=90, program=40)
    return seeds + [(folder / name).read_bytes() for name in ("ours.mid", "small.mid")]


def png_seeds() -> list[bytes]:
    """Pages as we write them, and as drawing programs do: 16-bit gray, RGBA, palette."""
    rng = np.random.default_rng(0)
    roll = np.where(rng.random((rolls.PAGE_COLUMNS, rolls.PITCHES)) < 0.1, rolls.ON, rolls.SILENCE).astype(np.uint8)
    roll[5, 40] = rolls.ONSET
    image = pages.to_image(roll)
    seeds = [pages.encode_png(image), pages.encode_png(image[:, :13])]
    for converted in (Image.fromarray(image.astype(np.uint16) * 257), Image.fromarray(image).convert("RGBA"),
                      Image.fromarray(image).convert("P")):  # fmt: skip
        data = io.BytesIO()
        converted.save(data, format="PNG")
        seeds.append(data.getvalue())
    return seeds


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random damages to ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        at = rng.randrange(len(out) + 1) if out else 0
        if kind == 0 and out:  # flip a bit
            at = min(at, len(out) - 1)
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:  # a byte set to something interesting
            out[min(at, len(out) - 1)] = rng.choice((0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif kind == 2:  # truncate
            del out[at:]
        elif kind == 3:  # insert bytes: continuation bytes make long quantities, 0xFF makes meta events
            out[at:at] = bytes(rng.choice((0x80, 0xFF, rng.randrange(256))) for _ in range(rng.randint(1, 8)))
        else:  # repeat a span
            span = out[at : at + rng.randint(1, 64)]
            out[at:at] = span * rng.randint(1, 4)
    return bytes(out)


def mend_png(data: bytes, rng: random.Random) -> bytes:
    """Maybe rewrite the IHDR (size, bit depth, colour type), then mend every chunk's CRC so the decoder sees the damage."""
    out = bytearray(data)
    if rng.random() < 0.3 and len(out) >= 33 and out[12:16] == b"IHDR":
        width = rng.choice((1, 13, 106, 2**16, 2**31 - 1, rng.randrange(1, 2**32)))
        height = rng.choice((106, 106, 1, rng.randrange(1, 2**32)))
        out[16:26] = struct.pack(">IIBB", width, height, rng.choice((1, 2, 4, 8, 16, 3)), rng.choice((0, 2, 3, 4, 6, 5)))
    position = len(pages.PNG_SIGNATURE)
    while position + PNG_CHUNK_HEADER + 4 <= len(out):
        length = struct.unpack(">I", out[position : position + 4])[0]
        end = position + PNG_CHUNK_HEADER + length
        if end + 4 > len(out):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(out[position + 4 : end]))
        position = end + 4
    return bytes(out)


def try_midi(data: bytes, folder: Path, split: bool) -> None:
    """The bytes through ``images``'s conversion of one source: midi.read (or read_parts), the length check, pages."""
    source = folder / "case.mid"
    source.write_bytes(data)
    task = images.Task(str(source), "case", str(folder / "pages"), images.Options(split_instruments=split))
    images.convert_or_raise(task)


def try_png(data: bytes, folder: Path) -> None:
    """The bytes as a page, then through image2midi as the command line runs it."""
    page = folder / "case.png"
    page.write_bytes(data)
    pages.read_image(page)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["image2midi", str(page), "--out", str(folder / "case-out.mid")])
    if code not in (0, 2):
        raise AssertionError(f"image2midi exited {code}")


def one_case(kind: str, case_seed: int, seeds: dict[str, list[bytes]], folder: Path) -> str | None:
    """Run one case; None if it passed, else what went wrong."""
    rng = random.Random(case_seed)
    data = mutate(rng.choice(seeds[kind]), rng)
    check: Callable[[], None]
    if kind == "png":
        data = mend_png(data, rng) if rng.random() < 0.7 else data
        check = lambda: try_png(data, folder)  # noqa: E731
    else:
        split = rng.random() < 0.25
        check = lambda: try_midi(data, folder, split)  # noqa: E731
    try:
        with budget(BUDGET_S):
            check()
    except PianorollError:
        pass
    except OverBudget as error:
        return str(error)
    except Exception as error:  # what the fuzzer is for
        return f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
    return None


def run(midi_cases: int, png_cases: int, seed: int, out: Callable[[str], None] = print) -> dict[str, int]:
    """Fuzz ``midi_cases`` MIDI files and ``png_cases`` pages; returns counts of cases and failures per kind."""
    counts = {"midi": 0, "png": 0, "midi_failures": 0, "png_failures": 0}
    with tempfile.TemporaryDirectory(prefix="pianoroll-fuzz-") as name:
        folder = Path(name)
        seeds = {"midi": midi_seeds(folder), "png": png_seeds()}
        for kind, cases in (("midi", midi_cases), ("png", png_cases)):
            for number in range(cases):
                case_seed = seed * CASES_PER_SEED + number
                failure = one_case(kind, case_seed, seeds, folder)
                counts[kind] += 1
                if failure:
                    counts[f"{kind}_failures"] += 1
                    out(f"FAIL {kind} case {number} (seed {seed}; replay: --replay {kind}:{case_seed}): {failure}")
    return counts


def replay(spec: str) -> int:
    kind, case_seed = spec.split(":")
    with tempfile.TemporaryDirectory(prefix="pianoroll-fuzz-") as name:
        folder = Path(name)
        seeds = {"midi": midi_seeds(folder), "png": png_seeds()}
        failure = one_case(kind, int(case_seed), seeds, folder)
    print(failure or "passes")
    return 1 if failure else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi", type=int, default=200, help="mutated MIDI files to try (default: 200)")
    parser.add_argument("--png", type=int, default=50, help="mutated PNG pages to try (default: 50)")
    parser.add_argument("--seed", type=int, default=0, help="what makes a run repeatable (default: 0)")
    parser.add_argument("--replay", metavar="KIND:CASE_SEED", help="run the one case a failure named")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    started = time.monotonic()
    counts = run(args.midi, args.png, args.seed)
    print(f"{counts['midi']} MIDI files, {counts['midi_failures']} failures; "
          f"{counts['png']} PNG pages, {counts['png_failures']} failures; "
          f"seed {args.seed}, {time.monotonic() - started:.1f} s")  # fmt: skip
    return 1 if counts["midi_failures"] or counts["png_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
