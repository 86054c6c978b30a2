#!/usr/bin/env bash
# The README's two commands on a machine without Debian's optional packages, to prove that pip
# alone gives sound and a green test run (issue 13).
#
# A fresh clone of this repository's HEAD (commit first: uncommitted work is not in it) runs, with
# a PATH that holds every program of the current PATH except fluidsynth and Chromium:
#     make compose VANISH=0.65     must write a WAV that is clearly not silence
#     make test                    must pass, skipping only the fluidsynth and Chromium tests
# CI is unset for both, as on a developer's machine (under CI=true a missing program fails a test).
# It creates a venv and trains a model: 20 minutes or more on two cores.
#
# usage: scripts/bare_machine.sh [--dry-run] [--keep]
#   --dry-run   build the clone and the PATH, show that the hidden programs are not found, stop
#   --keep      leave the temporary folder (clone, venv, output) for a look afterwards
set -euo pipefail

HIDDEN=(fluidsynth chromium chromium-browser chromedriver google-chrome google-chrome-stable)
NEEDED=(python3 make git sh)  # what the README's commands call
MIN_RMS=100                   # 16-bit RMS; silence is 0, a composed piece gives several hundred

dry_run=0 keep=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=1 ;;
        --keep) keep=1 ;;
        *) echo "usage: $0 [--dry-run] [--keep]" >&2; exit 2 ;;
    esac
done

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/pianoroll-bare.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# A bin folder of links to every program on PATH but the hidden ones, the first of each name
# winning, as PATH lookup would.
bin="$work/bin"
mkdir -p "$bin"
IFS=: read -r -a dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for program in "$dir"/*; do
        name=${program##*/}
        [ -x "$program" ] && [ ! -d "$program" ] || continue
        [ -e "$bin/$name" ] && continue
        for hidden in "${HIDDEN[@]}"; do
            [ "$name" = "$hidden" ] && continue 2
        done
        ln -s "$program" "$bin/$name"
    done
done
bare_path="$bin"

echo "PATH=$bare_path ($(ls "$bin" | wc -l) programs linked)"
for name in "${HIDDEN[@]}"; do
    if PATH="$bare_path" command -v "$name" >/dev/null; then
        echo "error: $name is still found on the bare PATH" >&2
        exit 1
    fi
    echo "hidden: $name"
done
for name in "${NEEDED[@]}"; do
    found=$(PATH="$bare_path" command -v "$name") || { echo "error: $name is not on PATH, and the README needs it" >&2; exit 1; }
    echo "found:  $name -> $(readlink -f "$found")"
done

git clone --quiet --no-hardlinks "$repo" "$work/pianoroll"
echo "clone:  $work/pianoroll at $(git -C "$work/pianoroll" rev-parse --short HEAD)"
if [ "$dry_run" = 1 ]; then
    echo "dry run: stopping before make compose and make test"
    exit 0
fi

cd "$work/pianoroll"
bare() { env -u CI PATH="$bare_path" "$@"; }

bare make compose VANISH=0.65
shopt -s nullglob
wavs=(output/*.wav)
[ ${#wavs[@]} -gt 0 ] || { echo "error: make compose wrote no WAV in output/" >&2; exit 1; }
bare .venv/bin/python - "$MIN_RMS" "${wavs[@]}" <<'EOF'
"""Each WAV is clearly not silence; where compose recorded its renderer, it is the pip one."""
import json
import sys
import wave
from pathlib import Path

import numpy as np

least = float(sys.argv[1])
for path in map(Path, sys.argv[2:]):
    with wave.open(str(path)) as sound:
        samples = np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2").astype(np.float64)
        seconds = sound.getnframes() / sound.getframerate()
    rms = float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
    renderer = json.loads(path.with_suffix(".json").read_text()).get("renderer", "(not recorded)")
    print(f"{path}: {seconds:.1f} s, RMS {rms:.0f}, played by {renderer}")
    if rms < least:
        sys.exit(f"{path}: RMS {rms:.0f} is below {least:.0f}: silence")
    if renderer != "(not recorded)" and not renderer.startswith("midirenderer"):
        sys.exit(f"{path}: played by {renderer}, though fluidsynth was hidden")
EOF

bare make test
echo "bare machine: make compose wrote sound and make test passed without fluidsynth or Chromium"
