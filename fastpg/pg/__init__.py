"""The policy-gradient layer: the logistic policy, rollouts, estimators and update rules (depends on ``cartpole``).

- ``policy`` (NumPy) and ``_policy`` (kernels): the decision rule z = θ·s, σ(z), greedy z >= 0;
- ``options``: the named choices (psi, discounts, baselines, optimizers) and their kernel codes;
- ``_seeding``: a batch's start states and stream key from its seed (NumPy's ``default_rng`` draws, in a kernel);
- ``_rollout``: episodes under the policy (stored, streamed, played); ``_estimators``: Ψ, baselines,
  the batch gradient, Fisher and importance ratios over a stored batch;
- ``engine``: ``rollout``, ``gradient``, ``estimate_gradient`` (validated at the boundary);
- ``offpolicy``: importance weights; ``natural``: the KL trust-region step; ``kl_penalty`` (kernel
  ``_penalty``): the KL-penalized surrogate with dual ascent on λ; ``optim``: SGD and Adam;
- ``evaluation``: ``evaluate`` in the kernels and ``evaluate_in_gymnasium`` in Gymnasium's own env.

A new estimator: its kernel in ``_estimators`` (a baseline: a branch of ``baseline_fill``), its name
and code in ``options``, an exact-expectation test in ``tests/test_engine_exact.py``, a sampled one in
``tests/test_sampling.py`` and its row in the README's estimator table.
"""
