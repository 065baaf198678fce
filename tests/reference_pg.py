"""Slow, obviously-correct references for the policy-gradient engine: plain Python and NumPy."""

from __future__ import annotations

import math

import numpy as np

from . import reference

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def splitmix64_stream(seed: int):
    z = seed & MASK64
    while True:
        z = (z + GOLDEN) & MASK64
        x = z
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
        yield x ^ (x >> 31)


def xoshiro_uniforms(key: int, episode: int, count: int) -> list[float]:
    """The first ``count`` uniforms of episode ``episode``'s xoshiro256** stream (Blackman & Vigna)."""
    seeder = splitmix64_stream(key + 4 * episode * GOLDEN)  # counters K + (4e + 1..4) G
    s = [next(seeder) for _ in range(4)]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    out = []
    for _ in range(count):
        result = (rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        out.append((result >> 11) * 2.0**-53)
    return out


def features_of(obs, bias: bool) -> list[float]:
    return [float(v) for v in np.asarray(obs, dtype=np.float32)] + ([1.0] if bias else [])


def logit(theta, features) -> float:
    z = 0.0
    for w, f in zip(theta, features):
        z += w * f
    return z


def sigmoid(z: float) -> float:
    """1 / (1 + exp(-z)), as the kernels compute it (0.0 where exp overflows)."""
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:
        return 0.0


def score(theta, features, left: bool) -> np.ndarray:
    """grad_theta log pi(a|s) = (1[left] - P(left)) f."""
    return ((1.0 if left else 0.0) - sigmoid(logit(theta, features))) * np.array(features)


def enumerate_trajectories(theta, state0, horizon: int, integrator: str = "euler"):
    """Every trajectory from ``state0`` under the stochastic policy, up to ``horizon`` steps.

    Yields (probability, features list, left list, rewards list); probabilities sum to 1.
    """
    bias = len(theta) == 5

    def walk(state, prob, feats, lefts, rewards):
        if len(rewards) == horizon:
            yield prob, feats, lefts, rewards
            return
        f = features_of(state, bias)
        p = sigmoid(logit(theta, f))
        for go_left, q in ((True, p), (False, 1.0 - p)):
            new_state, terminated = reference.step(state, 0 if go_left else 1, integrator)
            args = (prob * q, feats + [f], lefts + [go_left], rewards + [1.0])
            if terminated:
                yield args
            else:
                yield from walk(new_state, *args)

    yield from walk(tuple(state0), 1.0, [], [], [])


def psi_values(rewards, psi: str, discount: str, gamma: float) -> np.ndarray:
    """Psi_t of one episode, straight from the definitions."""
    n = len(rewards)
    if psi == "total_return":
        return np.full(n, sum(gamma**t * r for t, r in enumerate(rewards)))
    if discount == "from_start":
        return np.array([sum(gamma**u * rewards[u] for u in range(t, n)) for t in range(n)])
    return np.array([sum(gamma ** (u - t) * rewards[u] for u in range(t, n)) for t in range(n)])


def shared_baseline(baseline, psis, scores, horizon, d):
    """b[t, k] of a baseline computed from the given episodes (their Psi arrays and per-step scores)."""
    m = len(psis)
    b = np.zeros((horizon, d))
    if baseline == "batch_mean":
        b[:] = np.mean([p[0] for p in psis])
    elif baseline == "per_timestep":  # finished episodes have zero reward to go
        for t in range(horizon):
            b[t] = sum(p[t] for p in psis if t < len(p)) / m
    elif baseline == "per_timestep_running":
        for t in range(horizon):
            b[t] = np.mean([p[t] for p in psis if t < len(p)]) if any(t < len(p) for p in psis) else 0.0
    elif baseline == "optimal":
        S = np.array([s.sum(axis=0) for s in scores])
        G = np.array([p[0] for p in psis])
        den = (S**2).sum(axis=0)
        b[:] = np.where(den > 0, (S**2 * G[:, None]).sum(axis=0) / np.where(den > 0, den, 1), 0.0)
    elif baseline == "per_timestep_score_weighted":
        for t in range(horizon):
            rows = [(s[t], p[t]) for s, p in zip(scores, psis) if t < len(p)]
            num = sum(s**2 * p for s, p in rows)
            den = sum(s**2 for s, _ in rows)
            b[t] = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return b


def standardized(adv, psis, b_of, ddof, eps):
    """The advantages ``adv`` (list of [n, d]) standardized over all of their steps, zero spread giving 0."""
    flat = np.concatenate(adv)
    if flat.shape[0] <= ddof:
        return [np.zeros_like(a) for a in adv]
    magnitude = np.concatenate([np.abs(p)[:, None] + np.abs(b_of(i)[: len(p)]) for i, p in psis]).max(axis=0)
    std = flat.std(axis=0, ddof=ddof)
    spread = std > 1e-12 * np.maximum(1.0, magnitude)
    scale = np.where(spread, 1.0 / np.where(spread, std + eps, 1.0), 0.0)  # no spread: all 0
    return [(a - flat.mean(axis=0)) * scale for a in adv]


def batch_gradient(theta, episodes, psi="reward_to_go", discount="from_start", gamma=1.0, baseline="none",
                   normalize=False):
    """The batch estimator from per-episode (features, left, rewards) lists. Returns (grad, per_episode).

    A baseline named ``X_loo`` is baseline X of the other m - 1 episodes; ``normalize`` False/"none",
    True/"batch" (all steps, ddof 0, 1/(std + 1e-8)) or "episode" (each episode's steps, ddof 1, 1/std).
    """
    m, d = len(episodes), len(theta)
    psis = [psi_values(r, psi, discount, gamma) for _, _, r in episodes]
    scores = [np.array([score(theta, f, a) for f, a in zip(fs, ls)]).reshape(-1, d) for fs, ls, _ in episodes]
    horizon = max(len(p) for p in psis)
    if baseline.endswith("_loo"):  # zero padding of the others makes "per_timestep" divide by m - 1
        name = baseline[: -len("_loo")]
        baselines = [shared_baseline(name, psis[:i] + psis[i + 1:], scores[:i] + scores[i + 1:], horizon, d)
                     for i in range(m)]
    else:
        baselines = [shared_baseline(baseline, psis, scores, horizon, d)] * m
    adv = [p[:, None] - b[: len(p)] for p, b in zip(psis, baselines)]
    normalize = {False: "none", True: "batch"}.get(normalize, normalize)
    if normalize == "batch":
        adv = standardized(adv, list(enumerate(psis)), baselines.__getitem__, 0, 1e-8)
    elif normalize == "episode":
        adv = [standardized([a], [(i, p)], baselines.__getitem__, 1, 0.0)[0] for i, (a, p) in enumerate(zip(adv, psis))]
    per_episode = np.array([(s * a).sum(axis=0) for s, a in zip(scores, adv)])
    return per_episode.mean(axis=0), per_episode


def stream_episode(theta, state0, uniforms, psi: str, discount: str, gamma: float, horizon: int = 500):
    """One streamed episode in plain Python floats, in the streaming kernel's order of operations.

    Returns (length, grad, score_sum, fisher (d x d), discounted return, undiscounted return): what
    ``engine.estimate_gradient(..., streaming=True, fisher=True)`` writes for the episode, bit for bit.
    """
    d = len(theta)
    grad, score_sum, trace = [0.0] * d, [0.0] * d, [0.0] * d
    fisher = [[0.0] * d for _ in range(d)]
    state, discounted, total, disc, t = tuple(state0), 0.0, 0.0, 1.0, 0
    while t < horizon:
        f = features_of(state, d == 5)
        p = sigmoid(logit(theta, f))
        left = uniforms[t] < p
        weight = (1.0 if left else 0.0) - p
        for k in range(d):
            s = weight * f[k]
            score_sum[k] += s
            trace[k] = gamma * trace[k] + s
        w = p * (1.0 - p)
        for k in range(d):
            for j in range(k, d):
                fisher[k][j] += (w * f[k]) * f[j]
        state, terminated = reference.step(state, 0 if left else 1)
        r = 1.0
        discounted += disc * r
        total += r
        for k in range(d):
            if psi == "reward_to_go":
                grad[k] += disc * r * score_sum[k] if discount == "from_start" else r * trace[k]
        disc *= gamma
        t += 1
        if terminated:
            break
    if psi == "total_return":
        grad = [0.0 + discounted * s for s in score_sum]
    for k in range(d):
        for j in range(k):
            fisher[k][j] = fisher[j][k]
    return t, grad, score_sum, fisher, discounted, total
