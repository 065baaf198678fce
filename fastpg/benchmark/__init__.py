"""The benchmark layer: ``harness`` (``fastpg bench``: suites side by side, rounds interleaved), ``cref`` (the C
reference in ``tools/``, built with the machine's compiler) and ``demo`` (``fastpg demo``)."""
