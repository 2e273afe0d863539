"""`minidl train NAME`: train a model on a real data set and write a checkpoint folder.

    from minidl import train
    metrics = train.run("sentiment", epochs=2, out="runs/sentiment")
    predictor = train.load("runs/sentiment")
"""
from . import checkpoint
from .common import TrainConfig, Trainer, TrainingError
from .predictors import load
from .tasks import TASKS


def run(name, log=print, overwrite=False, **overrides):
    """Train task `name` (one of TASKS) with its defaults overridden; returns the final held-out metrics.

    Every setting is checked, and the checkpoint folder too (`checkpoint.prepare`), before
    anything is written: a folder that holds another checkpoint is only continued with
    resume=True or replaced with overwrite=True.
    """
    if name not in TASKS:
        raise ValueError(f"train: unknown task {name!r}; choose one of {sorted(TASKS)}")
    task_class = TASKS[name]
    settings = {**task_class.defaults, "out": f"runs/{name}"}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    config = TrainConfig(**settings)
    if config.plot:
        require_matplotlib()
    checkpoint.prepare(config.out, name, resume=config.resume, overwrite=overwrite)
    task = task_class(config)
    return Trainer(task, config, log).run()


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'minidl[plot]' (or train without --plot)") from None


__all__ = ["TASKS", "TrainConfig", "Trainer", "TrainingError", "load", "run"]
