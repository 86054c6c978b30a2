"""The benchmarks of `pianoroll benchmark`: ours against the seed's way, measured in the same run.

One module per benchmark (``images``, ``train``, ``compose``), each runnable as
``python -m pianoroll.bench.<name> [--json FILE]``, and the seed-faithful
references they time ours against (``seed_midi2img``, ``seed_compose``). They
live inside the package, not in ``scripts/``, so that an installed
``pianoroll benchmark`` (``pip install .``, not only an editable checkout)
finds them. They sit above every stage of the pipeline, like the commands:
each imports whatever stages it times, and nothing in the pipeline imports them.
"""
