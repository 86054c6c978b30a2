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
    model       the networks as named configurations (seed, independent, convlstm with its NADE head)
    stepping    the network stepped one column at a time on a batch: numpy for ours (from its weights)
    bundle      a trained model and everything compose needs to use it
    train       fit with checkpoints, early stopping and held-out figures
    audio       MIDI → WAV with fluidsynth, or midirenderer from pip
    compose     primers, the rules that decide each column pitch by pitch, the files written
    gallery     output/index.html
    evaluate    the model against baselines and against real music
    jsb         the JSB Chorales benchmark

The command line lives in ``pianoroll.cli`` and ``pianoroll.commands``; library
modules return values and never print.
"""

__version__ = "0.1.0"


class PianorollError(Exception):
    """Bad input or state that the user can fix: the CLI prints it as one line, without a traceback.

    Messages start with the file or folder concerned, then the reason.
    """
