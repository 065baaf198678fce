"""Policy files in JSON, NPY, NPZ and CSV: written atomically, read back checked and never unpickled.

- json: the ``fastpg-policy`` document (see ``fastpg.export.document``).
- npy: fastpg's parameter vector alone, float[4] or float[5] (bias last), for ``np.load``.
- npz: ``theta`` float[4], ``bias`` float[1] (or float[0] without a bias) and ``metadata``, the
  rest of the document as a JSON string (a 0-d unicode array); loads with ``allow_pickle=False``.
- csv: one header row of feature names (``bias`` last if any) and one row of values.

Numbers in the text formats are written with ``repr``, the shortest text that reads back to the
same float64, so json and csv are lossless like npy and npz. Files over ``MAX_POLICY_BYTES``
(also uncompressed, for npz) are refused before they are parsed.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from tokenize import TokenError
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes
from ..limits import MAX_POLICY_BYTES
from .document import FEATURES, Policy, check_document, policy_json, theta_as

FILE_FORMATS = ("json", "npy", "npz", "csv")
NPZ_MEMBERS = {"theta.npy", "bias.npy", "metadata.npy"}


def write_policy_file(policy: Policy, path: str | Path, fmt: str, metadata: dict | None = None,
                      dtype: str = "float64") -> None:
    """Write ``policy`` to ``path`` as ``fmt`` (one of ``FILE_FORMATS``), atomically."""
    document = policy_json(policy, metadata, dtype)
    values = theta_as(policy.theta, dtype)
    if fmt == "json":
        data = (json.dumps(document, indent=1, allow_nan=False) + "\n").encode()
    elif fmt == "csv":
        names = FEATURES + (["bias"] if values.shape[0] == 5 else [])
        data = (",".join(names) + "\n" + ",".join(map(repr, values.astype(np.float64).tolist())) + "\n").encode()
    elif fmt in ("npy", "npz"):
        buffer = io.BytesIO()
        if fmt == "npy":
            np.save(buffer, values, allow_pickle=False)
        else:
            rest = {k: v for k, v in document.items() if k not in ("theta", "bias")}
            np.savez(buffer, theta=values[:4], bias=values[4:], metadata=np.array(json.dumps(rest, allow_nan=False)))
        data = buffer.getvalue()
    else:
        raise ValueError(f"unknown policy file format {fmt!r}; expected one of {', '.join(FILE_FORMATS)}")
    atomic_write_bytes(path, data)


def load_policy(path: str | Path) -> Policy:
    """The policy in a json, npy, npz or csv file (recognized by content).

    Raises ``ValueError`` for a file that is not a fastpg policy, has the wrong length, holds
    non-finite numbers, has an unknown format version or is over 1 MiB; never unpickles. (A run
    folder is read by ``fastpg.load_policy``.)
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ValueError(f"policy file {path} does not exist or is not a file")
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise ValueError(f"policy file {path} is larger than {MAX_POLICY_BYTES} bytes; not a fastpg policy")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read policy file {path}: {exc.strerror or exc}") from None
    try:
        if data.startswith(b"\x93NUMPY"):
            return _from_array(_load_npy(data, str(path)), path)
        if data.startswith(b"PK"):
            return _read_npz(data, path)
        text = data.decode("utf-8")
    except (UnicodeDecodeError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError) as exc:  # damaged, encrypted or unsupported npy/npz content
        raise ValueError(f"{path} is not a fastpg policy file ({type(exc).__name__}: {exc})") from None
    if text.lstrip().startswith(("{", "[")):
        return check_document(_json(text, path), str(path))
    if text.startswith(FEATURES[0]):
        return _read_csv(text, path)
    raise ValueError(f"{path} is not a fastpg policy file (expected fastpg-policy JSON, NPY, NPZ or CSV)")


def _json(text: str, path: Path):
    def reject(constant: str):
        raise ValueError(f"{path} holds a non-finite number ({constant}); a fastpg policy is finite")

    try:
        return json.loads(text, parse_constant=reject)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path} is not a fastpg policy file (not valid JSON: {exc})") from None


def _load_npy(data: bytes, where: str) -> np.ndarray:
    """The array of an npy file, after checking that the data its header declares is in the file.

    A header may declare any shape: ``np.load`` would allocate it before reading, so a 1 KiB file
    could ask for terabytes. ``ValueError`` naming ``where`` for a damaged header or a declared size
    that does not match the file.
    """
    stream = io.BytesIO(data)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(stream)
        if version not in readers:
            raise ValueError(f"npy format version {version} is not supported (1.0 and 2.0 are)")
        shape, _, dtype = readers[version](stream)
    except (ValueError, SyntaxError, TokenError, OverflowError, MemoryError) as exc:
        raise ValueError(f"{where} is not a fastpg policy file (npy header: {exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects, which fastpg never unpickles (allow_pickle=False)")
    declared, held = math.prod(shape) * dtype.itemsize, len(data) - stream.tell()
    if declared != held:
        raise ValueError(f"{where} is not a fastpg policy file: its npy header declares {shape} {dtype} "
                         f"({declared} bytes) but {held} bytes of data follow")
    stream.seek(0)
    return np.load(stream, allow_pickle=False)


def _from_array(array: np.ndarray, path: Path) -> Policy:
    """The policy of an npy parameter vector (float32 or float64, 4 or 5 values)."""
    if array.dtype.kind != "f" or array.dtype.itemsize not in (4, 8):
        raise ValueError(f"{path} holds {array.dtype} values; a fastpg policy holds float32 or float64")
    if array.shape not in ((4,), (5,)):
        raise ValueError(f"{path} holds an array of shape {array.shape}; a fastpg policy has 4 weights "
                         "and an optional bias, shape (4,) or (5,)")
    return _policy(array, path)


def _policy(values, path: Path, metadata: dict | None = None) -> Policy:
    try:
        return Policy(np.asarray(values, dtype=np.float64), metadata or {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _read_npz(data: bytes, path: Path) -> Policy:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    if {m.filename for m in members} != NPZ_MEMBERS:
        raise ValueError(f"{path} is not a fastpg policy file (an npz with {sorted(NPZ_MEMBERS)} expected)")
    if sum(m.file_size for m in members) > MAX_POLICY_BYTES:
        raise ValueError(f"{path} unpacks to more than {MAX_POLICY_BYTES} bytes; not a fastpg policy")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        theta, bias, metadata = (_load_npy(archive.read(f"{name}.npy"), f"{path} ({name}.npy)") for name in ("theta", "bias", "metadata"))
    if metadata.dtype.kind != "U" or metadata.shape != ():
        raise ValueError(f"{path}: metadata must be a JSON string")
    document = _json(str(metadata), path)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: metadata must be a JSON object")
    if theta.shape != (4,) or bias.shape not in ((0,), (1,)):
        raise ValueError(f"{path}: theta must have shape (4,) and bias (0,) or (1,), got {theta.shape} "
                         f"and {bias.shape}")
    if theta.dtype.name != document.get("dtype") or bias.dtype != theta.dtype:
        raise ValueError(f"{path}: arrays are {theta.dtype}/{bias.dtype} but the metadata says "
                         f"{document.get('dtype')!r}")
    document.update(theta=theta.astype(np.float64).tolist(), bias=float(bias[0]) if bias.size else None)
    return check_document(document, str(path))


def _read_csv(text: str, path: Path) -> Policy:
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    header = [name.strip() for name in rows[0]]
    if header not in (FEATURES, FEATURES + ["bias"]) or len(rows) != 2 or len(rows[1]) != len(header):
        raise ValueError(f"{path} is not a fastpg policy CSV: expected the header {','.join(FEATURES)}[,bias] "
                         "and one row of as many values")
    try:
        values = [float(v) for v in rows[1]]
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return _policy(values, path)
