"""Checkpoints: `md.save(obj, path)` and `md.load(path)` in the safetensors format. Nothing is pickled.

`obj` is a state dict or any nesting of dicts, lists and tuples whose leaves are
ndarrays, Tensors, numbers, strings, booleans or None (e.g. {"model": ...,
"optimizer": opt.state_dict(), "epoch": 3}). Arrays become safetensors tensors;
the structure and the other leaves go in the header's metadata as JSON. Writing
goes to a temporary file that is renamed into place, so an interrupted save
never leaves a broken checkpoint behind.
"""
import json
import os
import tempfile

import numpy as np

from .tensor import Tensor

_FORMAT = "minidl-checkpoint-1"


class CheckpointError(ValueError):
    pass


def _flatten(obj, arrays, where):
    """JSON-ready structure of obj, with each array replaced by {"__tensor__": key}."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor in a state dict
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        key = where or "tensor"
        arrays[key] = obj if obj.flags.c_contiguous else obj.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, arrays, f"{where}/{k}" if where else str(k))] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, arrays, f"{where}/{i}" if where else str(i)) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"md.save: cannot store a {type(obj).__name__} at '{where}' (use arrays, numbers, strings, lists, dicts)")


def _rebuild(node, arrays):
    if isinstance(node, dict):
        if "__tensor__" in node:
            return arrays[node["__tensor__"]]
        if "__tuple__" in node:
            return tuple(_rebuild(v, arrays) for v in node["__tuple__"])
        return {k: _rebuild(v, arrays) for k, v in node["__dict__"]}
    if isinstance(node, list):
        return [_rebuild(v, arrays) for v in node]
    return node


def save(obj, path):
    """Write obj (see the module doc) to `path` atomically."""
    from safetensors.numpy import save_file

    arrays = {}
    structure = _flatten(obj, arrays, "")
    metadata = {"format": _FORMAT, "structure": json.dumps(structure)}
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path):
    """Read a checkpoint written by `save` (or any safetensors file: then a flat dict of arrays)."""
    from safetensors import SafetensorError, safe_open

    if not os.path.exists(path):
        raise FileNotFoundError(f"md.load: no checkpoint at {path}")
    try:
        arrays = {}
        with safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            for key in f.keys():
                arrays[key] = f.get_tensor(key)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"md.load: {path} is not a readable safetensors checkpoint ({exc})") from None
    if metadata.get("format") != _FORMAT:
        return arrays
    try:
        return _rebuild(json.loads(metadata["structure"]), arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"md.load: {path} has a damaged structure header ({exc})") from None
