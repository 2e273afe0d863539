"""What every `minidl train` task shares: the loop, progress, checkpoints, resume and plots.

A checkpoint folder holds:
    model.safetensors      the model's state_dict
    training.safetensors   optimizer state, step/epoch counters and RNG states (for --resume)
    config.json            task name, hyper-parameters and model arguments (for minidl.train.load)
    vocab.json             the tokenizer, for text tasks
    metrics.json           the history and the final held-out numbers
Every file is written to a temporary name and renamed, so Ctrl-C never leaves
a half-written checkpoint: the last complete one stays.
"""
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .. import random as md_random
from ..autograd.grad_mode import no_grad
from ..nn.utils import clip_grad_norm_
from ..serialization import load, save


@dataclass
class TrainConfig:
    epochs: int = 1
    steps: int = 0  # > 0: stop after this many optimizer steps (all epochs together)
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    out: str = "runs/task"
    plot: bool = False
    resume: bool = False
    limit: int = 0  # > 0: use only this many training examples (smoke runs)
    eval_every: int = 0  # > 0: evaluate and checkpoint every this many steps, not per epoch
    clip: float = 0.0
    progress: bool = True
    profile_steps: int = 0  # > 0: profile this many steps, then stop without evaluating or saving
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        """Settings are checked before a run writes anything."""
        for name, least in (("epochs", 1), ("batch_size", 1), ("steps", 0), ("limit", 0), ("eval_every", 0), ("seed", 0), ("profile_steps", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                rule = "a positive whole number" if least else "a whole number, 0 or more"
                raise ValueError(f"train: {name} must be {rule}; got {value!r}")
        for name, may_be_zero in (("lr", False), ("clip", True)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and (value > 0 or may_be_zero and value == 0)):
                raise ValueError(f"train: {name} must be a positive finite number{' or 0' if may_be_zero else ''}; got {value!r}")


class TrainingError(RuntimeError):
    """Training stopped (a non-finite loss); the last good checkpoint is left as it was."""


def write_json(path, payload):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Trainer:
    """Runs a task's steps with progress, periodic evaluation and checkpoints.

    The task gives: `model`, `optimizer`, `batches(epoch, rng)` (an iterator of
    batches), `loss(batch)`, `evaluate()` (a dict of held-out metrics, the first
    key being the headline), `config_payload()` and optionally `tokenizer`.
    """

    def __init__(self, task, config: TrainConfig, log=print):
        self.task, self.config, self.log = task, config, log
        self.history = {"step": [], "loss": [], "eval": []}
        self.step = 0
        self.epoch = 0
        self.data_rng = np.random.default_rng(config.seed + 1)
        os.makedirs(config.out, exist_ok=True)

    # ---------------------------------------------------------- checkpoints
    def _paths(self):
        join = lambda name: os.path.join(self.config.out, name)  # noqa: E731
        return join("model.safetensors"), join("training.safetensors"), join("config.json"), join("vocab.json"), join("metrics.json")

    def save_checkpoint(self, final_metrics=None):
        model_path, state_path, config_path, vocab_path, metrics_path = self._paths()
        save(self.task.model.state_dict(), model_path)
        save({
            "optimizer": self.task.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "data_rng": json.dumps(self.data_rng.bit_generator.state),
            "md_rng": json.dumps(md_random.generator().bit_generator.state),
        }, state_path)
        write_json(config_path, self.task.config_payload())
        if getattr(self.task, "tokenizer", None) is not None:
            self.task.tokenizer.save(vocab_path)
        write_json(metrics_path, {"history": self.history, "final": final_metrics or {}})

    def _last_checkpoint(self):
        from .checkpoint import last_complete_epoch

        epoch = last_complete_epoch(self.config.out)
        if epoch is None:
            return f"no checkpoint was written to {self.config.out}"
        return f"the last good checkpoint (epoch {epoch}) is in {self.config.out}, unchanged"

    def resume(self):
        model_path, state_path, _, _, metrics_path = self._paths()
        if not os.path.exists(state_path):
            raise FileNotFoundError(f"--resume: no checkpoint in {self.config.out}")
        self.task.model.load_state_dict(load(model_path))
        state = load(state_path)
        self.task.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.data_rng.bit_generator.state = json.loads(state["data_rng"])
        md_random.generator().bit_generator.state = json.loads(state["md_rng"])
        self.history = read_json(metrics_path)["history"]
        self.log(f"resumed from {self.config.out} at epoch {self.epoch}, step {self.step}")

    # ----------------------------------------------------------------- loop
    def _progress(self, iterable, total, desc):
        if not self.config.progress:
            return iterable
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (CI logs keep just the per-epoch lines)
        return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True, disable=None)

    def evaluate(self):
        self.task.model.eval()
        try:
            with no_grad():
                metrics = self.task.evaluate()
        finally:
            self.task.model.train()
        self.history["eval"].append({"step": self.step, "epoch": self.epoch, **metrics})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        self.log(f"epoch {self.epoch} step {self.step}: {shown}")
        return metrics

    def run(self):
        cfg = self.config
        if cfg.resume:
            self.resume()
        model, optimizer = self.task.model, self.task.optimizer
        model.train()
        metrics = self.history["eval"][-1] if self.history["eval"] else {}
        started = time.perf_counter()
        profiler = None
        if cfg.profile_steps:
            from ..profiler import profile

            profiler = profile().__enter__()
        while self.epoch < cfg.epochs and not (cfg.steps and self.step >= cfg.steps):
            batches = self.task.batches(self.epoch, self.data_rng)
            total = getattr(self.task, "batches_per_epoch", lambda: None)()  # a total gives the bar its ETA
            bar = self._progress(batches, total, f"epoch {self.epoch + 1}/{cfg.epochs}")
            seen, tick = 0, time.perf_counter()
            for batch in bar:
                optimizer.zero_grad()
                loss = self.task.loss(batch)
                value = loss.item()
                if not math.isfinite(value):  # stop before the step: the parameters and the checkpoint stay good
                    raise TrainingError(
                        f"the loss became {value} at step {self.step + 1} (epoch {self.epoch + 1}); "
                        f"{self._last_checkpoint()}; try a smaller --lr")
                loss.backward()
                if cfg.clip:
                    clip_grad_norm_(model.parameters(), cfg.clip)
                optimizer.step()
                if hasattr(self.task, "after_step"):
                    self.task.after_step(self.step)
                self.step += 1
                self.history["step"].append(self.step)
                self.history["loss"].append(value)
                seen += self.task.batch_size(batch)
                if cfg.progress and hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{value:.3f}", ex_per_s=f"{seen / (time.perf_counter() - tick):.0f}")
                if profiler is not None and self.step >= cfg.profile_steps:
                    profiler.__exit__(None, None, None)
                    return {"steps": self.step, "profile": profiler.table(row_limit=30)}
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    metrics = self.evaluate()
                    self.save_checkpoint()
                if cfg.steps and self.step >= cfg.steps:
                    break
            else:
                self.epoch += 1
                if not cfg.eval_every:
                    metrics = self.evaluate()
                    self.save_checkpoint()
                continue
            break  # stopped by --steps
        if not self.history["eval"] or self.history["eval"][-1]["step"] != self.step:
            metrics = self.evaluate()
        final = {k: v for k, v in metrics.items() if k not in ("step", "epoch")}
        final["train_seconds"] = round(time.perf_counter() - started, 1)
        final["steps"] = self.step
        self.save_checkpoint(final)
        if cfg.plot:
            self.plot()
        return final

    # ----------------------------------------------------------------- plots
    def plot(self):
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # train.run checks this before training; here for a Trainer used directly
            self.log("--plot needs matplotlib: pip install 'minidl[plot]'")
            return
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.plot(self.history["step"], self.history["loss"], lw=0.8)
        left.set(xlabel="step", ylabel="training loss", title="training loss")
        evals = self.history["eval"]
        if evals:
            key = next(k for k in evals[0] if k not in ("step", "epoch"))
            right.plot([e["step"] for e in evals], [e[key] for e in evals], marker="o")
            right.set(xlabel="step", ylabel=key, title=f"held-out {key}")
        fig.tight_layout()
        fig.savefig(os.path.join(self.config.out, "training_curves.png"), dpi=100)
        plt.close(fig)
        if hasattr(self.task, "plot_extra"):
            self.task.plot_extra(self.config.out, plt)
        self.log(f"plots written to {self.config.out}")
