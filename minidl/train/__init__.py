"""`minidl train NAME`: train a model on a real data set and write a checkpoint folder.

    from minidl import train
    metrics = train.run("sentiment", epochs=2, out="runs/sentiment")
    predictor = train.load("runs/sentiment")
"""
from .common import Trainer, TrainConfig
from .predictors import load
from .tasks import TASKS


def run(name, log=print, **overrides):
    """Train task `name` (one of TASKS) with its defaults overridden; returns the final held-out metrics."""
    if name not in TASKS:
        raise ValueError(f"train: unknown task {name!r}; choose one of {sorted(TASKS)}")
    task_class = TASKS[name]
    settings = {**task_class.defaults, "out": f"runs/{name}"}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    config = TrainConfig(**settings)
    task = task_class(config)
    return Trainer(task, config, log).run()


__all__ = ["TASKS", "TrainConfig", "Trainer", "load", "run"]
