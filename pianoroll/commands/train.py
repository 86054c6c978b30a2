"""Train a model on the pages: checkpoints the best by held-out loss, stops early, resumes.

Pages are re-joined per piece; every 9 columns predict the next one. A tenth
of the pieces (by a stable hash of their names) is held out: its loss picks
the best epoch and its Brier, NLL and F1 are printed and stored in the
bundle. Interrupt it at any time and run the same command again to continue.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from pianoroll.model import PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", default="images", help="folder of pages + manifest.csv (default: images)")
    parser.add_argument("--model", default="models/default", help="bundle folder to write (default: models/default)")
    parser.add_argument("--arch", choices=sorted(PRESETS), default="convlstm", help="network (default: convlstm)")
    parser.add_argument("--loss", choices=["mse", "bce"], default=None, help="loss (default: the preset's: bce for convlstm, mse for independent and seed)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"most epochs to train (default: the preset's, {PRESETS['convlstm'].epochs} for convlstm)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same data + seed, same history (default: 0)")
    parser.add_argument("--held-out", type=float, default=0.1, help="fraction of pieces held out (default: 0.1)")
    parser.add_argument("--batch-size", type=int, default=None, help="windows per batch and device (default: the preset's)")
    parser.add_argument("--transpose", type=int, default=0, metavar="K",
                        help="augment: transpose each window by up to ±K semitones (default: 0)")
    parser.add_argument("--patience", type=int, default=None,
                        help=f"epochs without improvement before stopping (default: the preset's, {PRESETS['convlstm'].patience})")
    parser.add_argument("--strategy", choices=["none", "mirrored", "multiworker"], default="none",
                        help="tf.distribute strategy; multiworker reads TF_CONFIG (default: none)")
    parser.add_argument("--backup-every", type=int, default=None, metavar="BATCHES",
                        help="batches between backups of the training state (default: a few hundred)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pianoroll import train

    preset = PRESETS[args.arch]
    config = dataclasses.replace(preset, loss=args.loss or preset.loss,
                                 batch_size=args.batch_size or preset.batch_size)
    run = train.Run(epochs=args.epochs, patience=args.patience, seed=args.seed, held_out_fraction=args.held_out,
                    transpose=args.transpose, strategy=args.strategy,
                    **({"backup_every": args.backup_every} if args.backup_every else {}))
    result = train.train(args.images, args.model, config, run, progress=print)
    if result.config is None:
        print(f"worker done after {result.epochs_run} epochs; the chief writes {args.model}")
        return 0
    record = result.config
    print(f"{args.model}: {record.arch} ({record.loss}), {record.epochs} epochs, "
          f"best at epoch {record.best_epoch}; held out: {len(record.data.held_out_pieces)} pieces")
    if record.metrics.held_out is None:  # an event network: figures per event, in its own terms
        events = record.metrics.events
        print(f"held out: loss {events.loss:.4f}, NLL {events.nll_per_event:.4f} nats/event over {events.events} events")
    else:
        print(train.summary_table(dataclasses.asdict(record.metrics.held_out)))
    return 0
