"""A batch of music files → pages + manifest: in parallel processes, resumable, tolerant of bad files.

Each source file (MIDI through ``midi``; MusicXML, ABC and kern through
``scores``) becomes one piece, or one piece per instrument with
``split_instruments``. A file that cannot be read becomes an error line in
the manifest and the batch goes on. The manifest is rewritten every second
while the batch runs, so a killed batch keeps what it finished; a re-run
skips every source whose size, modification time and options match its
manifest lines and whose pages are all there.

Hostile input costs a line, never the machine: a piece longer than
``max_columns`` is refused before a roll is allocated (a 37-byte MIDI file can
ask for a billion columns). Our own output failing (a full disk) stops the
batch with one line naming the folder, and the manifest keeps what finished.
A run holds ``<out>/.pianoroll.lock`` (``locked``), since two runs into one
folder would each write a manifest of only their own rows.

The library reports progress by yielding; the command draws the bar.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import multiprocessing
import os
import re
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from pianoroll import PianorollError, files, midi, scores
from pianoroll import pages as paging
from pianoroll import roll as rolls
from pianoroll.pages import Entry, OutputError
from pianoroll.roll import DEFAULT_RESOLUTION, HIGHEST_PITCH, LOWEST_PITCH, Note

MIDI_SUFFIXES = (".mid", ".midi")
SUFFIXES = (*MIDI_SUFFIXES, *scores.SUFFIXES)
MANIFEST_EVERY = 1.0  # seconds between manifest rewrites while a batch runs
MAX_COLUMNS = 100_000  # a piece's length limit: 6.9 hours of sixteenths at 120 bpm, which no real piece reaches
LOCK_FILE = ".pianoroll.lock"  # holds the process id of the run writing into the folder

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclasses.dataclass(frozen=True)
class Options:
    """What shapes the pages of a source: changing any of it makes old pages out of date."""

    resolution: float = DEFAULT_RESOLUTION
    keep_onsets: bool = False  # re-struck notes keep a darker ONSET pixel
    split_instruments: bool = False  # one piece per instrument, as midi2img did
    max_columns: int = MAX_COLUMNS  # a longer piece is an error, refused before its roll is allocated

    def tag(self) -> str:
        """The options besides resolution, as the manifest's ``options`` column records them.

        A limit other than the default is recorded too, so raising it retries
        the pieces it refused.
        """
        limit = f"max-columns={self.max_columns}" if self.max_columns != MAX_COLUMNS else ""
        return ",".join(name for name, on in (("onsets", self.keep_onsets), ("split", self.split_instruments), (limit, limit)) if on)


@dataclasses.dataclass(frozen=True)
class Task:
    """One source to convert into the piece (or pieces) named ``piece``."""

    source: str
    piece: str
    out_dir: str
    options: Options


@dataclasses.dataclass
class Summary:
    """What a batch left in the folder for the sources it was given."""

    sources: int = 0
    converted: int = 0  # sources converted by this run
    up_to_date: int = 0  # sources whose pages were already there
    failed: int = 0  # sources that could not be converted, by this run or the one before
    pieces: int = 0
    pages: int = 0
    notes: int = 0
    dropped: int = 0
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (source, reason)


def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every file below the given folders (hidden ones aside), sorted."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(_files_below(path))
        elif path.is_file():
            found.append(path)
        else:
            raise PianorollError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def _files_below(root: Path) -> list[Path]:
    """Every file below ``root``, hidden files and folders aside, sorted.

    A symlinked folder is followed, as the user who linked it in meant, but
    each folder is walked once: a link back up cannot loop, and a folder
    linked twice does not give its pieces twice.
    """
    seen: set[tuple[int, int]] = set()
    files = []
    for folder, folders, names in os.walk(root, followlinks=True):
        try:
            identity = os.stat(folder)
        except OSError:
            folders[:] = []
            continue
        if (identity.st_dev, identity.st_ino) in seen:
            folders[:] = []
            continue
        seen.add((identity.st_dev, identity.st_ino))
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        files.extend(Path(folder) / name for name in names if not name.startswith(".") and (Path(folder) / name).is_file())
    return sorted(files)


def read_parts(source: Path, split_instruments: bool) -> dict[str, list[Note]]:
    """The notes of a source: {"": all of them}, or one entry per instrument."""
    suffix = source.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return midi.read_parts(source) if split_instruments else {"": midi.read(source)}
    if suffix in scores.SUFFIXES:
        return scores.read_parts(source) if split_instruments else {"": scores.read(source)}
    kind = f"{suffix} files" if suffix else "files without a suffix"
    raise PianorollError(f"{source}: unsupported ({kind}; pianoroll reads {', '.join(SUFFIXES)})")


def convert(task: Task) -> list[Entry]:
    """Convert one source into pages; a source that cannot be read gives one error entry."""
    base = _base_entry(task)
    try:
        base = _with_stat(base, Path(task.source))  # an error line too records what it was made from
        return convert_or_raise(task)
    except OutputError:
        raise  # our folder, not the source: the batch stops
    except PianorollError as error:
        return [dataclasses.replace(base, status="error", reason=_reason(error, task.source))]
    except OSError as error:  # gone or unreadable since the batch was planned
        return [dataclasses.replace(base, status="error", reason=f"cannot be read ({error.strerror or error})")]
    except Exception as error:  # a parser's unforeseen failure must not stop the batch
        return [dataclasses.replace(base, status="error", reason=f"{type(error).__name__}: {error}")]


def convert_or_raise(task: Task) -> list[Entry]:
    """Convert one source into pages, raising whatever goes wrong: ``convert`` for a batch, the fuzzer to see it all."""
    source, options = Path(task.source), task.options
    base = _with_stat(_base_entry(task), source)
    parts = read_parts(source, options.split_instruments)
    names = _part_pieces(task.piece, list(parts))
    return [_piece(base, name, notes, Path(task.out_dir), options) for name, notes in zip(names, parts.values())]


def _base_entry(task: Task) -> Entry:
    return Entry(task.source, task.piece, resolution=task.options.resolution, options=task.options.tag())


def _with_stat(entry: Entry, source: Path) -> Entry:
    """The entry with the source's size and modification time, by which a re-run knows it is up to date."""
    stat = source.stat()
    return dataclasses.replace(entry, source_size=stat.st_size, source_mtime=stat.st_mtime)


def _part_pieces(piece: str, parts: list[str]) -> list[str]:
    """The piece name of each part: ``piece`` alone, or ``piece-<part>``, unique within the source."""
    names: list[str] = []
    for part in parts:
        name = f"{piece}-{_slug(part)}" if part else piece
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    return names


def _piece(base: Entry, piece: str, notes: list[Note], out_dir: Path, options: Options) -> Entry:
    columns = piece_columns(notes, options.resolution)
    if not columns <= options.max_columns:  # NaN too
        raise PianorollError(f"{base.source}: {columns:,.0f} columns long at {options.resolution:g} quarter notes a column, "
                             f"above the limit of {options.max_columns:,} columns (--max-columns)")
    roll, dropped = rolls.from_notes(notes, options.resolution, keep_onsets=options.keep_onsets)
    if not roll.shape[0]:
        raise PianorollError(f"{base.source}: all {dropped} notes lie outside pitches {rolls.LOWEST_PITCH}..{rolls.HIGHEST_PITCH}")
    try:
        written = paging.write_pages(roll, out_dir, piece)
    except OSError as error:
        raise OutputError(f"{out_dir}: cannot write pages ({error.strerror or error})") from None
    return dataclasses.replace(base, piece=piece, pages=len(written), columns=roll.shape[0],
                               notes=len(notes) - dropped, dropped=dropped)  # fmt: skip


def piece_columns(notes: list[Note], resolution: float) -> float:
    """How many columns ``roll.from_notes`` would make of the notes, counted in floats before anything is allocated.

    In floats, so that a note ending 10^30 beats in is a number to refuse
    rather than an integer overflow; NaN if a time is NaN.
    """
    table = np.array([(n.pitch, n.start, n.end) for n in notes], dtype=np.float64).reshape(-1, 3)
    inside = table[(table[:, 0] >= LOWEST_PITCH) & (table[:, 0] <= HIGHEST_PITCH)]
    with np.errstate(all="ignore"):
        steps = np.floor(inside[:, 1:] / resolution + 0.5 + 1e-9)  # as roll.to_step rounds
        return float(np.maximum(steps[:, 1], steps[:, 0] + 1).max(initial=0))


def _reason(error: Exception, source: str) -> str:
    """An error's message without the file name in front: the manifest has its own column for that."""
    message = str(error)
    return message[len(source) + 2 :] if message.startswith(f"{source}: ") else message


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-") or "part"


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold ``<out_dir>/.pianoroll.lock`` while a batch runs there, or stop at once naming the process that holds it.

    Two runs into one folder would each rewrite the manifest with only their
    own rows. Once the lock is ours, temporaries left by killed runs are
    removed: nobody else of ours is writing.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise OutputError(f"{out_dir}: cannot be used as the output folder ({error.strerror or error})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise PianorollError(f"{out_dir}: another run (process {holder}) is writing pages here; "
                                 "wait for it to finish, or choose another --out") from None
        with contextlib.suppress(OSError):  # the pid is for the message above; a full disk must not stop us here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        files.remove_stale_temporaries(out_dir)
        yield
    finally:
        os.close(fd)  # releases the lock


class Batch:
    """Sources to convert into one folder: what is up to date, what is left, and the manifest."""

    def __init__(self, sources: Sequence[Path], out_dir: Path, options: Options = Options()):
        self.out_dir = Path(out_dir)
        self.options = options
        self.sources = [str(s) for s in sources]
        old = _old_manifest(self.out_dir)
        names = _piece_names(self.sources, old)
        self.entries = old
        self.done: set[str] = set()
        self.tasks = [Task(s, names[s], str(self.out_dir), options) for s in self.sources
                      if not self._up_to_date(s, names[s])]  # fmt: skip

    def _up_to_date(self, source: str, piece: str) -> bool:
        entries = self.entries.get(source)
        if not entries or not Path(source).is_file():
            return False
        stat = Path(source).stat()
        return all(
            (e.source_size, e.source_mtime, e.resolution, e.options) == (stat.st_size, stat.st_mtime, self.options.resolution, self.options.tag())
            and (e.piece == piece or (self.options.split_instruments and e.piece.startswith(f"{piece}-")))
            and all((self.out_dir / paging.page_name(e.piece, i)).is_file() for i in range(e.pages))
            for e in entries
        )  # fmt: skip

    def run(self, jobs: int | None = None) -> Iterator[list[Entry]]:
        """Convert what is left, yielding each source's entries as it finishes; keeps the manifest current.

        An OutputError (our folder cannot be written) ends the batch; the
        manifest is still written if it can be, with what finished.
        """
        written = time.monotonic()
        try:
            for entries in in_parallel(convert, self.tasks, jobs):
                source = entries[0].source
                _remove_pages(self.out_dir, self.entries.get(source, []), entries)
                self.entries[source] = entries
                self.done.add(source)
                yield entries
                if time.monotonic() - written > MANIFEST_EVERY:
                    self.write_manifest()
                    written = time.monotonic()
        except BaseException:
            with contextlib.suppress(OutputError):  # the error on its way out says more than this one would
                self.write_manifest()
            raise
        self.write_manifest()

    def write_manifest(self) -> Path:
        """The manifest of every entry known; OutputError when it cannot be written."""
        try:
            return paging.write_manifest(self.out_dir, (e for entries in self.entries.values() for e in entries))
        except OSError as error:
            raise OutputError(f"{self.out_dir / paging.MANIFEST}: cannot be written ({error.strerror or error})") from None

    def summary(self) -> Summary:
        todo = {t.source for t in self.tasks}
        summary = Summary(sources=len(self.sources))
        for source in self.sources:
            entries = self.entries.get(source, [])
            if source in todo and source not in self.done:
                continue  # not reached (interrupted)
            ok = bool(entries) and all(entry.ok for entry in entries)
            summary.converted += ok and source in todo
            summary.up_to_date += ok and source not in todo
            summary.failed += not ok
            for entry in entries:
                if entry.ok:
                    summary.pieces += 1
                    summary.pages += entry.pages
                    summary.notes += entry.notes
                    summary.dropped += entry.dropped
                else:
                    summary.errors.append((source, entry.reason))
        return summary


def _remove_pages(out_dir: Path, old: list[Entry], new: list[Entry]) -> None:
    """Delete the pages of pieces a source no longer makes (it fails now, or was renamed)."""
    kept = {e.piece for e in new if e.ok}
    for entry in old:
        if entry.ok and entry.piece not in kept:
            for index in range(entry.pages):
                try:
                    (out_dir / paging.page_name(entry.piece, index)).unlink(missing_ok=True)
                except OSError as error:
                    raise OutputError(f"{out_dir}: cannot remove old pages ({error.strerror or error})") from None


def _old_manifest(out_dir: Path) -> dict[str, list[Entry]]:
    """The folder's manifest by source; an unreadable one is ignored, since its pages are remade."""
    try:
        entries = paging.read_manifest(out_dir) if (out_dir / paging.MANIFEST).is_file() else []
    except PianorollError:
        entries = []
    by_source: dict[str, list[Entry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source, []).append(entry)
    return by_source


def _piece_names(sources: list[str], old: dict[str, list[Entry]]) -> dict[str, str]:
    """A unique piece name per source: its file's stem, then ``stem-2``, ``stem-3``… on a clash.

    Names already used by sources outside this batch stay theirs, and a source
    that had a name keeps it, so re-runs give the same names.
    """
    batch = set(sources)
    taken = {e.piece for s, entries in old.items() if s not in batch for e in entries if e.ok}
    names = {}
    for source in sorted(sources, key=lambda s: (s not in old, s)):
        stem = Path(source).stem
        had = [e.piece for e in old.get(source, []) if e.ok and e.piece.startswith(stem) and "split" not in e.options]
        name, count = had[0] if had else stem, 1
        while name in taken:
            count += 1
            name = f"{stem}-{count}"
        names[source] = name
        taken.add(name)
    return {s: names[s] for s in sources}


def in_parallel(work: Callable[[Item], Result], items: Sequence[Item], jobs: int | None = None) -> Iterator[Result]:
    """``work`` over ``items`` in ``jobs`` processes (default: every core), results as they finish.

    This process is one of them: it forks ``jobs - 1`` workers, and every
    process takes the next item from a shared counter. A worker sends its
    results back on a pipe of its own, read here between this process's own
    items. A ``multiprocessing.Pool`` forks ``jobs`` workers and feeds them
    through queues served by threads here, while this process waits: on the
    409 chorales (a third of a second in one process) two jobs were 1.54 to
    1.58 times as fast as one with a pool, 1.78 times this way. An exception
    in a worker is raised here once the workers are stopped; a worker that
    dies without one is an error too.
    """
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    if jobs == 1:
        yield from map(work, items)
        return
    context = multiprocessing.get_context()
    taken = context.Value("q", 0)  # the next item to take; its lock keeps two processes off one item
    workers, pipes = [], []
    try:
        for _ in range(jobs - 1):
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(target=_take_items, args=(work, items, taken, send), daemon=True)
            worker.start()
            send.close()  # only the worker holds the sending end, so its exit reads as the end of the pipe
            workers.append(worker)
            pipes.append(receive)
        done = 0
        while (index := _next_item(taken, len(items))) is not None:
            yield work(items[index])
            done += 1
            for result in _results(pipes, timeout=0):
                done += 1
                yield result
        for result in _results(pipes, timeout=None):
            done += 1
            yield result
        if done < len(items):
            raise PianorollError(f"a worker process stopped after {done} of {len(items)} files without saying why")
    finally:
        for worker in workers:
            worker.terminate()  # a worker already done is left alone; one still busy is stopped (an error, an interrupt)
            worker.join()


def _next_item(taken: Any, count: int) -> int | None:
    """The index of the next item nobody has taken, by the counter ``in_parallel``'s processes share."""
    with taken.get_lock():
        index = taken.value
        taken.value += 1
    return index if index < count else None


def _results(pipes: list[Connection], timeout: float | None) -> Iterator[Result]:
    """Workers' results waiting on ``pipes`` (all of them until every pipe ends, for timeout None); ended pipes are dropped."""
    while pipes:
        ready = wait(pipes, timeout)
        if not ready:
            return
        for pipe in ready:
            try:
                failed, result = pipe.recv()
            except EOFError:
                pipes.remove(pipe)
                continue
            if failed:
                raise result
            yield result


def _take_items(work: Callable[[Item], Result], items: Sequence[Item], taken: Any, send: Connection) -> None:
    """One worker of ``in_parallel``: the next item by the shared counter until none is left, each result sent."""
    try:
        while (index := _next_item(taken, len(items))) is not None:
            send.send((False, work(items[index])))
    except BaseException as error:  # the parent raises it, as a pool would
        try:
            send.send((True, error))
        except Exception:  # an exception that cannot be pickled is sent as its text
            send.send((True, PianorollError(repr(error))))
    finally:
        send.close()
