"""A policy as a C99 header: ``float`` or ``double`` weights and ``static inline`` decision functions.

The header needs only ``math.h`` (``exp``/``expf``; link with ``-lm``). Its functions take the
observation array in Gymnasium's order and compute, operation for operation, the decision rule of
``fastpg.pg.policy``:

- ``double``: weights printed with 17 significant digits (exact); for Gymnasium's float32
  observation widened to double, z and the greedy action are exactly fastpg's policy.
- ``float``: weights rounded to float32 and printed with 9 significant digits plus ``f`` (exact);
  z and the greedy action are exactly what NumPy computes in float32 (``fastpg.pg.policy.logit`` with dtype float32), which
  near z = 0 can differ from the float64 policy: the header says on how many real states.

Exactness needs IEEE arithmetic evaluated in the declared type (``FLT_EVAL_METHOD`` 0, as on
x86-64 and ARM) and no fused multiply-add: GCC contracts ``z + w*s`` into an FMA in its GNU modes
on targets that have one, so compile with ``-std=c99`` or ``-ffp-contract=off``; for Clang the
header turns contraction off itself. P(left) = 1 / (1 + e) is then exact given e = exp(-z); a C
library's ``exp``/``expf`` may be 1 ulp from the correctly rounded value, which 1 + e can turn
into 2 ulps of P(left) (glibc's ``expf`` does on about 2 in 10,000 real states).

Test vectors (observations from real trajectories, with z, P(left) from a correctly rounded exp,
and the greedy action, computed by NumPy in the header's precision) are compiled in when
``<PREFIX>_TEST_VECTORS`` is defined before the include; ``<prefix>_self_test()`` counts the
vectors a build gets wrong: another z or greedy action, or P(left) more than 2 ulps away.
"""

from __future__ import annotations

import json
import re

import numpy as np

from ..pg import engine
from ..pg import policy as rule
from .document import Policy, env_params, policy_json, theta_as

C_TYPES = {"float64": "double", "float32": "float"}
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is a C identifier (a letter, then up to 39 letters, digits or underscores)."""
    if not isinstance(prefix, str) or not _IDENTIFIER.fullmatch(prefix):
        raise ValueError(f"prefix must be a C identifier (a letter, then up to 39 letters, digits or _), "
                         f"got {prefix!r}")
    return prefix


def trajectory_observations(policy: Policy, episodes: int = 100, seed: int = 0) -> np.ndarray:
    """float32[n, 4]: every observation the policy acted on in ``episodes`` sampled episodes (seed ``seed``)."""
    batch = engine.rollout(policy.theta, episodes, seed, params=env_params(policy.metadata))
    visited = np.arange(batch.features.shape[1]) < batch.lengths[:, None]
    return batch.features[visited][:, :4].astype(np.float32)


def pick_test_vectors(policy: Policy, observations: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` rows of ``observations``: half closest to the decision boundary, half evenly spaced."""
    count = min(count, observations.shape[0])
    near = np.argsort(np.abs(policy.logit(observations)), kind="stable")[:count // 2]
    rest = np.setdiff1d(np.arange(observations.shape[0]), near)
    spaced = rest[np.linspace(0, rest.shape[0] - 1, count - near.shape[0]).round().astype(np.int64)]
    return observations[np.sort(np.concatenate([near, spaced]))]


def header_outputs(policy: Policy, observations, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z, P(left) and the greedy action as the ``dtype`` header computes them, with a correctly rounded exp.

    exp(-z) is the C library's double exp, rounded to float32 for the float header (a correctly
    rounded expf but for vanishingly rare double roundings); 1 / (1 + e) is then computed in ``dtype``.
    """
    z = rule.logit(theta_as(policy.theta, dtype), observations, dtype)
    return z, rule.p_left(z), rule.greedy_action(z)


def literal(value: float, dtype: str) -> str:
    """A C literal that reads back exactly: 9 significant digits and ``f`` for float32, 17 for float64."""
    return f"{float(value):.8e}f" if dtype == "float32" else f"{float(value):.16e}"


def array_literal(values, dtype: str) -> str:
    return "{" + ", ".join(literal(v, dtype) for v in values) + "}"


def comment_block(policy: Policy, title: str, notes: list[str]) -> str:
    """The header's opening comment: ``title``, ``notes`` and the full policy document as JSON."""
    document = json.dumps(policy_json(policy), indent=1).replace("*/", "* /").replace("/*", "/ *")
    lines = [title, ""] + notes + ["", "The policy (fastpg-policy JSON; theta in float64, exact):"]
    return "/* " + "\n * ".join(lines + document.splitlines()).replace(" \n", "\n") + "\n */\n"


def disagreement_note(kind: str, differs: int, states: int, episodes: int, seed: int) -> str:
    return (f"Greedy action of this {kind} header vs fastpg's float64 policy: differs on {differs} of {states} "
            f"states visited in {episodes} sampled episodes (seed {seed}).")


def c_header(policy: Policy, dtype: str = "float64", prefix: str = "fastpg_policy", test_vectors: int = 32,
             episodes: int = 100, seed: int = 0) -> str:
    """The C99 header text of ``policy`` with ``dtype`` "float32" (``float``) or "float64" (``double``)."""
    ctype, prefix = C_TYPES[dtype], check_prefix(prefix)
    macro, f = prefix.upper(), "f" if dtype == "float32" else ""
    observations = trajectory_observations(policy, episodes, seed)
    *_, greedy = header_outputs(policy, observations, dtype)
    differs = int((greedy != policy.greedy_action(observations)).sum())
    w = theta_as(policy.theta, dtype)
    has_bias = w.shape[0] == 5
    one, zero = ("1.0f", "0.0f") if dtype == "float32" else ("1.0", "0.0")
    terms = "".join(f"    z = z + {prefix}_weights[{k}] * s[{k}];\n" for k in range(4))
    notes = [f"{prefix}: CartPole logistic policy in C99 {ctype}; generated by fastpg's exporter, do not edit.",
             "Observation s: s[0] cart position (m), s[1] cart velocity (m/s), s[2] pole angle (rad),",
             "  s[3] pole angular velocity (rad/s): Gymnasium's observation, in its order.",
             "Actions: 0 = push left, 1 = push right.",
             f"Decision rule, every operation in {ctype}, left to right:",
             "  z = ((((0 + w[0]*s[0]) + w[1]*s[1]) + w[2]*s[2]) + w[3]*s[3])" + (" + bias" if has_bias else ""),
             f"  P(left) = 1 / (1 + exp{f}(-z)); sampled: action 0 iff u < P(left), u uniform in [0, 1)",
             "  greedy: action 0 (push left) iff z >= 0, else action 1 (push right)",
             "Exact given IEEE arithmetic in the declared type (FLT_EVAL_METHOD 0) and no fused multiply-add:",
             "  with GCC use -std=c99 or -ffp-contract=off (Clang: this header's pragma).",
             f"  P(left) is then exact given e = exp{f}(-z); an exp{f} 1 ulp off can move it by 2 ulps.",
             disagreement_note(ctype, differs, observations.shape[0], episodes, seed)]
    if test_vectors:
        notes.append(f"Define {macro}_TEST_VECTORS before including this header for {prefix}_self_test().")
    parts = [comment_block(policy, f"{prefix}.h", notes), f"#ifndef {macro}_H\n#define {macro}_H\n\n",
             "#include <math.h>\n\n", f"#define {macro}_HAS_BIAS {int(has_bias)}\n\n",
             f"static const {ctype} {prefix}_weights[4] = {array_literal(w[:4], dtype)};\n"]
    if has_bias:
        parts.append(f"static const {ctype} {prefix}_bias = {literal(w[4], dtype)};\n")
    parts.append(f"""
/* z = theta . s (+ bias), summed left to right from 0. */
static inline {ctype} {prefix}_logit(const {ctype} s[4])
{{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    {ctype} z = {zero};
{terms}{f"    z = z + {prefix}_bias;" + chr(10) if has_bias else ""}    return z;
}}

/* P(action 0 = push left | s). */
static inline {ctype} {prefix}_p_left(const {ctype} s[4])
{{
    return {one} / ({one} + exp{f}(-{prefix}_logit(s)));
}}

/* 0 (push left) iff z >= 0, else 1 (push right). */
static inline int {prefix}_greedy_action(const {ctype} s[4])
{{
    return {prefix}_logit(s) >= {zero} ? 0 : 1;
}}

/* The sampled action for a uniform u in [0, 1): 0 (push left) iff u < P(left). */
static inline int {prefix}_sample_action(const {ctype} s[4], {ctype} u)
{{
    return u < {prefix}_p_left(s) ? 0 : 1;
}}
""")
    if test_vectors:
        parts.append(_test_vectors(policy, observations, dtype, prefix, test_vectors, episodes, seed))
    parts.append(f"\n#endif /* {macro}_H */\n")
    return "".join(parts)


def _test_vectors(policy: Policy, observations: np.ndarray, dtype: str, prefix: str, count: int, episodes: int,
                  seed: int) -> str:
    ctype, macro, f = C_TYPES[dtype], prefix.upper(), "f" if dtype == "float32" else ""
    chosen = pick_test_vectors(policy, observations, count)
    z, p, action = header_outputs(policy, chosen, dtype)
    rows = ",\n    ".join(array_literal(row, dtype) for row in chosen.astype(dtype))
    return f"""
#ifdef {macro}_TEST_VECTORS
/* {chosen.shape[0]} observations visited in {episodes} sampled episodes (seed {seed}), half of them the closest
 * to the decision boundary, with z, P(left) (from a correctly rounded exp) and the greedy action that NumPy
 * computes in {dtype}. */
#define {macro}_NUM_TEST_VECTORS {chosen.shape[0]}
static const {ctype} {prefix}_test_obs[{chosen.shape[0]}][4] = {{
    {rows}}};
static const {ctype} {prefix}_test_logit[{chosen.shape[0]}] = {array_literal(z, dtype)};
static const {ctype} {prefix}_test_p_left[{chosen.shape[0]}] = {array_literal(p, dtype)};
static const int {prefix}_test_action[{chosen.shape[0]}] = {{{", ".join(map(str, action.tolist()))}}};

/* How many test vectors this build gets wrong: another z or greedy action (the arithmetic is not IEEE {ctype}
 * evaluated as written), or P(left) more than 2 ulps away (exp{f} more than 1 ulp off). */
static inline int {prefix}_self_test(void)
{{
    int i, wrong = 0;
    for (i = 0; i < {macro}_NUM_TEST_VECTORS; i++) {{
        const {ctype} *s = {prefix}_test_obs[i];
        {ctype} p = {prefix}_p_left(s), e = {prefix}_test_p_left[i];
        if ({prefix}_logit(s) != {prefix}_test_logit[i] || {prefix}_greedy_action(s) != {prefix}_test_action[i]
            || p < nextafter{f}(nextafter{f}(e, -1), -1) || p > nextafter{f}(nextafter{f}(e, 2), 2))
            wrong++;
    }}
    return wrong;
}}
#endif /* {macro}_TEST_VECTORS */
"""
