"""The ``fastpg-policy`` document (format version 1): θ with its meaning attached, and ``Policy``.

A policy is 4 weights θ over the features (cart position, cart velocity, pole angle, pole angular
velocity) and an optional bias b; fastpg's own parameter vector is ``θ`` or ``[θ, b]`` (float64[4]
or [5], bias last). Its decision rule, which every exporter reproduces exactly:

    s = Gymnasium's float32 observation, widened to float64
    z = ((((0.0 + θ0 s0) + θ1 s1) + θ2 s2) + θ3 s3) + b      (left to right; no "+ b" without a bias)
    P(action 0 = push left | s) = 1 / (1 + exp(-z));  sampled: action 0 iff u < P(left), u ~ U[0, 1)
    greedy: action 0 (push left) iff z >= 0, else action 1 (push right)

``fastpg/policy.schema.json`` is the JSON Schema of the document; ``check_document`` applies the
same rules (and finiteness, which JSON Schema cannot express) without needing ``jsonschema``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from ..cartpole.spec import DEFAULT_PARAMS, ENV_SPECS, FEATURE_NAMES, CartPoleParams, env_spec, make_params, spec_of
from ..pg import policy as rule
from ..validate import check_theta

POLICY_FILE = "policy.json"  # the document's name in a folder (a run folder holds one when finished)
FORMAT_NAME = "fastpg-policy"
FORMAT_VERSION = 1
from .formats import DTYPES
FEATURES = list(FEATURE_NAMES)
ACTIONS = ["push left", "push right"]
DECISION_RULE = {
    "observation": "s = Gymnasium's float32 CartPole observation, widened to float64 (exact)",
    "logit": "z = ((((0.0 + theta[0]*s[0]) + theta[1]*s[1]) + theta[2]*s[2]) + theta[3]*s[3]) + bias, "
             "evaluated left to right in the document's dtype; no '+ bias' when bias is null",
    "p_left": "P(action 0 = push left | s) = 1 / (1 + exp(-z))",
    "sampled": "action 0 iff u < P(left), u uniform in [0, 1)",
    "greedy": "action 0 (push left) iff z >= 0, else action 1 (push right)",
}
REQUIRED = ("format", "version", "theta", "bias", "dtype", "features", "actions", "decision_rule", "env",
            "training", "evaluation", "fastpg_version")


@dataclass(frozen=True, eq=False)
class Policy:
    """A loaded policy: ``theta`` float64[4] or [5] (bias last, read-only) and its ``metadata``.

    ``metadata`` is the ``fastpg-policy`` document without ``theta`` and ``bias`` (env, training
    config and seed, evaluation, dtype, ...); it is empty for formats that carry none (npy, csv).
    """

    theta: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        theta = check_theta(self.theta)
        theta.setflags(write=False)
        object.__setattr__(self, "theta", theta)

    @property
    def weights(self) -> np.ndarray:
        """The 4 feature weights θ, float64[4]."""
        return self.theta[:4]

    @property
    def bias(self) -> float | None:
        """The bias b, or None for a policy without one."""
        return float(self.theta[4]) if self.theta.shape[0] == 5 else None

    def logit(self, observations) -> np.ndarray:
        """z for observations float[..., 4] (rounded to float32 first, as Gymnasium's are), float64[...]."""
        return rule.logit(self.theta, observations)

    def p_left(self, observations) -> np.ndarray:
        """P(action 0 = push left), float64[...] (0.0 where exp(-z) overflows), with the C library's exp."""
        return rule.p_left(self.logit(observations))

    def greedy_action(self, observations) -> np.ndarray:
        """The greedy action, int64[...]: 0 (push left) iff z >= 0, else 1 (push right)."""
        return rule.greedy_action(self.logit(observations))


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of the ``fastpg-policy`` document (``fastpg/policy.schema.json``)."""
    return json.loads(resources.files("fastpg.export").joinpath("policy.schema.json").read_text(encoding="utf-8"))


def env_metadata(params: CartPoleParams = DEFAULT_PARAMS) -> dict[str, Any]:
    """The ``env`` entry: Gymnasium id and the CartPole parameters the policy was trained on."""
    spec = spec_of(params) or ENV_SPECS["CartPole-v1"]
    values = params._asdict()
    values.pop("integrator")
    values["kinematics_integrator"] = params.kinematics_integrator
    return {"id": spec.id, "params": values}


def env_params(metadata: dict[str, Any]) -> CartPoleParams:
    """The CartPoleParams a policy's metadata names (Gymnasium v1 defaults when it names none)."""
    env = metadata.get("env")
    if env is None:
        return DEFAULT_PARAMS
    p = env["params"]
    return make_params(env_spec(env["id"]).version, kinematics_integrator=p["kinematics_integrator"],
                       sutton_barto_reward=p["sutton_barto_reward"], max_episode_steps=p["max_episode_steps"])


def theta_as(theta: np.ndarray, dtype: str) -> np.ndarray:
    """θ rounded to ``dtype`` ("float64" or "float32"); ``ValueError`` if it does not fit."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "float32" and np.abs(theta).max() > np.finfo(np.float32).max:
        raise ValueError(f"theta {theta.tolist()} does not fit in float32")
    return theta.astype(dtype)


def policy_json(policy: Policy, metadata: dict[str, Any] | None = None, dtype: str = "float64") -> dict[str, Any]:
    """The ``fastpg-policy`` document of ``policy`` (JSON-ready; floats round-trip exactly with ``repr``).

    ``metadata``: as :func:`fastpg.training.runs.policy_metadata` returns it (default: the policy's own;
    a missing ``env`` means Gymnasium's CartPole-v1, missing ``training``/``evaluation`` null).
    ``dtype`` "float32" writes θ rounded to float32 (each value is then exactly a float32).
    """
    from .. import __version__

    values = theta_as(policy.theta, dtype).astype(np.float64).tolist()
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "theta": values[:4],
                "bias": values[4] if len(values) == 5 else None, "dtype": dtype, "features": FEATURES,
                "actions": ACTIONS, "decision_rule": DECISION_RULE, "env": env_metadata(), "training": None,
                "evaluation": None, "fastpg_version": __version__}
    fixed = set(document) - {"env", "training", "evaluation"}
    document.update({k: v for k, v in (policy.metadata if metadata is None else metadata).items() if k not in fixed})
    check_document(document, "policy")
    return document


def _number(value: Any) -> bool:
    """A finite number that fits a float64 (an integer of 400 digits does not)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_document(document: Any, where: str) -> Policy:
    """The Policy a ``fastpg-policy`` document describes; ``ValueError`` naming ``where`` and the problem."""
    def fail(problem: str) -> ValueError:
        return ValueError(f"{where} is not a valid fastpg policy: {problem}")

    if not isinstance(document, dict):
        raise fail(f"expected a JSON object, got {type(document).__name__}")
    if document.get("format") != FORMAT_NAME:
        raise fail(f"format is {document.get('format')!r}, not {FORMAT_NAME!r}")
    version = document.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ValueError(f"{where}: unknown {FORMAT_NAME} format version {version!r} "
                         f"(this fastpg reads version {FORMAT_VERSION})")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    theta, bias = document["theta"], document["bias"]
    if not isinstance(theta, list) or len(theta) != 4:
        length = len(theta) if isinstance(theta, list) else type(theta).__name__
        raise fail(f"theta must be a list of 4 weights, got {length}")
    if not all(map(_number, theta)) or not (bias is None or _number(bias)):
        raise fail(f"theta and bias must be finite numbers, got {theta!r} and {bias!r}")
    if document["dtype"] not in DTYPES:
        raise fail(f"dtype must be one of {', '.join(DTYPES)}, got {document['dtype']!r}")
    values = np.array(theta + ([] if bias is None else [bias]), dtype=np.float64)
    with np.errstate(over="ignore"):
        not_float32 = not np.array_equal(values.astype(np.float32), values)
    if document["dtype"] == "float32" and not_float32:
        raise fail("dtype is float32 but theta holds values that are not float32")
    if document["features"] != FEATURES or document["actions"] != ACTIONS:
        raise fail(f"features must be {FEATURES} and actions {ACTIONS} (in that order)")
    _check_env(document["env"], fail)
    for key in ("training", "evaluation"):
        if document[key] is not None and not isinstance(document[key], dict):
            raise fail(f"{key} must be an object or null")
    if not isinstance(document["decision_rule"], dict) or not isinstance(document["fastpg_version"], str):
        raise fail("decision_rule must be an object and fastpg_version a string")
    return Policy(values, {k: v for k, v in document.items() if k not in ("theta", "bias")})


def _check_env(env: Any, fail) -> None:
    params = env.get("params") if isinstance(env, dict) else None
    if not isinstance(params, dict) or not isinstance(env.get("id"), str) or env.get("id") not in ENV_SPECS:
        raise fail(f"env must be {{'id': one of {list(ENV_SPECS)}, 'params': {{...}}}}")
    try:
        env_params({"env": env})
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"env params are not CartPole parameters fastpg knows ({exc})") from None
