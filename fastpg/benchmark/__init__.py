"""The benchmark layer: ``harness`` (``fastpg bench``: suites side by side, rounds interleaved; ``case``: one
timed case), ``pg_cases`` (the policy-gradient groups and their targets), ``comparators`` (what a Python user
would write instead), ``cref`` (the C reference in ``tools/``, built with the machine's compiler) and ``demo``
(``fastpg demo``)."""
