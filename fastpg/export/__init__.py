"""The export layer: a learned θ as plain arrays and controllers (depends on ``cartpole`` and ``pg``, never on training).

- ``document``: the ``fastpg-policy`` JSON document (format v1, ``policy.schema.json``) and ``Policy``;
- ``formats``: format names and defaults; ``policy_files``: json / npy / npz / csv, written atomically,
  read back checked; ``c_header`` / ``fixed_header``: C99 ``float``/``double`` and Q16.16 headers;
- ``policy_io``: ``save_policy`` and ``greedy_agreement``; ``policy_files.load_policy`` reads a policy file
  (``fastpg.load_policy`` also reads run folders).

A new format: write it in its own module, add its name to ``formats.FORMATS`` and a branch in
``policy_io.save_policy`` (and ``policy_files.load_policy`` if it can be read back).
"""

from .._lazy import lazy_attributes

__getattr__ = lazy_attributes(__name__, {
    "Policy": ".document", "policy_json": ".document", "policy_schema": ".document",
    "save_policy": ".policy_io", "load_policy": ".policy_files", "greedy_agreement": ".policy_io",
    "FORMATS": ".formats",
})
__all__ = ["FORMATS", "Policy", "greedy_agreement", "load_policy", "policy_json", "policy_schema", "save_policy"]
