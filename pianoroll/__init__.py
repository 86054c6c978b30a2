"""pianoroll: MIDI folders → piano-roll pages → a ConvLSTM → new music.

The package reads top-down in the order data flows, one module per stage:

    files       writing any file atomically (a temporary, then renamed); stale temporaries removed
    roll        the piano roll in memory: (time, pitch) columns, the named constants, the beat
    metrics     NLL, Brier, F1 and the statistics of a roll (reads only rolls: any stage may use it)
    measures    a roll measured as music, sets compared (MGEval overlap, a classifier); reads only rolls
    midi        MIDI bytes ↔ notes: our note-event decoder, py_midicsv for anything unusual
    scores      MusicXML / ABC / kern and the built-in corpus, through music21
    pages       roll ↔ 106×106 PNG pages, and the manifest that joins them back
    images      a folder of sources → pages, in parallel, resumable
    dataset     pages → rolls per piece → 9-column windows → the next column
    sequences   pieces as events (tokens, notes, messages: the seed systems' encodings) and windows of them
    model       the networks as named configurations (seed, independent, convlstm with its NADE head)
    event_networks  the seed systems that read events: tokens, notes, messages (Keras, stepped by TensorFlow)
    stepping    the network stepped one column at a time on a batch: numpy for ours (from its weights)
    bundle      a trained model and everything compose needs to use it
    train       fit with checkpoints, early stopping and held-out figures
    audio       MIDI → WAV with fluidsynth, or midirenderer from pip
    compose     primers, the rules that decide each column pitch by pitch, the files written
    gallery     output/index.html
    evaluate    the model against baselines and against real music
    chorales    the chorale benchmark: the built-in chorales at a quarter note, the seed network and the default
    jsb         the JSB Chorales benchmark

The command line lives in ``pianoroll.cli`` and ``pianoroll.commands``, and the
benchmarks against the seed's way in ``pianoroll.bench``; library modules return
values and never print (long stages report through a ``Progress``).
"""

from typing import Callable

__version__ = "0.1.0"

Progress = Callable[[str], None]
"""How a long stage (train, evaluate, a benchmark) tells the user where it is: one line at a time.

Library modules never print; the command passes ``print`` or a bar. Two loops
report in their own way because what they hand back is more than news:
``compose.generate`` calls back with the number of columns done (a bar's
position) and ``images.Batch.run`` yields each file's result as it comes.
"""


def quiet(message: str) -> None:
    """The Progress that says nothing: the default wherever a caller may not want news."""


class PianorollError(Exception):
    """Bad input or state that the user can fix: the CLI prints it as one line, without a traceback.

    Messages start with the file or folder concerned, then the reason.
    """
