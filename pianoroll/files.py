"""Writing files so that no reader ever sees half of one: the bottom of the package, used by every stage.

Everything the tool writes (pages, the manifest, MIDI, WAV, JSON, reports,
plots) is written under a hidden temporary name in its folder and renamed into
place. A writer killed on the way leaves only a temporary of a recognisable
name, which the next run removes once its process is gone.
"""

from __future__ import annotations

import io
import itertools
import os
import re
from pathlib import Path
from typing import Any

TEMPORARY = re.compile(r"\..+\.(\d+)-\d+\.tmp")  # create_temporary's names: .<name>.<pid>-<serial>.tmp
_temporaries = itertools.count()  # serial numbers for write_atomic's temporary names


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file under a temporary name in its folder, then rename it: readers never see half of it."""
    fd, tmp = create_temporary(Path(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_temporary(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create and open a hidden temporary file beside ``path``, for a writer that renames it into place.

    It is created with mode 0666 less the umask, as ``open`` would, so the
    finished file needs no chmod; its name holds our process id and a counter,
    so parallel writers never share one. The folder is made if it is missing.
    """
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_temporaries)}{suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # left by a killed process that had our id: take the next name
            continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries that killed writers left in ``folder``; returns them.

    Only names of create_temporary's ``.tmp`` pattern whose process is gone
    are touched: a live writer's file, or anybody else's, stays.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = TEMPORARY.fullmatch(name)
        if match and not _alive(int(match.group(1))):
            (Path(folder) / name).unlink(missing_ok=True)
            removed.append(Path(folder) / name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:  # a number no process can have
        return False
    return True


def write_figure(figure: Any, path: Path, dpi: int = 100) -> None:
    """A matplotlib figure as a PNG, written atomically like everything else we write; closes it."""
    import matplotlib.pyplot as plt

    data = io.BytesIO()
    figure.savefig(data, format="png", dpi=dpi)
    plt.close(figure)
    write_atomic(Path(path), data.getvalue())
