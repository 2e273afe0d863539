"""A training run's checkpoint folder: what is in it, and the rules that keep a good one safe.

A run never writes into a folder that holds another checkpoint unless asked: `--resume`
continues it (and must be the same task), `--overwrite` replaces it with its plots.
"""
import glob
import json
import os

FILES = ("model.safetensors", "training.safetensors", "config.json", "vocab.json", "metrics.json")


class CheckpointFolderError(ValueError):
    """A checkpoint folder that a run may not use as asked."""


def holds_checkpoint(folder):
    return any(os.path.exists(os.path.join(folder, name)) for name in ("model.safetensors", "training.safetensors"))


def _task_of(folder):
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            return json.load(f).get("task")
    except (OSError, ValueError):
        return None


def prepare(folder, task, resume=False, overwrite=False):
    """Check `folder` for a run of `task` before anything is written; clear it for --overwrite."""
    if resume and overwrite:
        raise CheckpointFolderError("--resume and --overwrite contradict each other: choose one")
    if resume:
        if not holds_checkpoint(folder):
            raise CheckpointFolderError(f"--resume: no checkpoint in {folder} (train without --resume to start one)")
        found = _task_of(folder)
        if found != task:
            raise CheckpointFolderError(f"--resume: {folder} holds a {found} checkpoint, not {task}; "
                                        f"use `minidl train {found} --resume --out {folder}` or another --out")
        return
    if holds_checkpoint(folder):
        if not overwrite:
            raise CheckpointFolderError(f"{folder} already holds a {_task_of(folder) or 'training'} checkpoint; "
                                        "continue it with --resume, replace it with --overwrite, or choose another --out")
        for path in [os.path.join(folder, name) for name in FILES] + glob.glob(os.path.join(folder, "*.png")):
            if os.path.exists(path):
                os.remove(path)


def last_complete_epoch(folder):
    """The epoch of the checkpoint in `folder` (its last complete save), or None when there is none."""
    try:
        with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as f:
            evals = json.load(f)["history"]["eval"]
    except (OSError, ValueError, KeyError):
        return None
    return evals[-1]["epoch"] if evals and holds_checkpoint(folder) else None
