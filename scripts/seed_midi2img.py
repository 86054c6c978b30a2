"""The seed's MIDI → image converter from a checkout: runs ``python -m pianoroll.bench.seed_midi2img``."""

from pianoroll.bench.seed_midi2img import main

if __name__ == "__main__":
    main()
