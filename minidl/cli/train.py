"""`minidl train | predict | sample`: the command line of the training tasks."""
import json
import sys

from .arguments import non_negative_float, non_negative_int, positive_float, positive_int


def _task_defaults(key):
    """'sentiment 6, charlm 6, ...' for a setting the tasks set themselves, else TrainConfig's default."""
    from ..train import TASKS, TrainConfig

    values = {name: task.defaults.get(key, getattr(TrainConfig, key, None)) for name, task in sorted(TASKS.items())}
    if len(set(values.values())) == 1:
        return f"default {next(iter(values.values()))}"
    return "default " + ", ".join(f"{name} {value}" for name, value in values.items())


def add_train_arguments(parser):
    from ..train import TASKS

    parser.add_argument("task", choices=sorted(TASKS), help="what to train")
    settings = (
        ("--epochs", positive_int, "passes over the training data", "epochs"),
        ("--steps", positive_int, "stop after this many optimizer steps (all epochs together); default: no limit", None),
        ("--batch-size", positive_int, "examples per step", "batch_size"),
        ("--lr", positive_float, "learning rate", "lr"),
        ("--seed", non_negative_int, "random seed: the same seed on the same machine gives the same result", "seed"),
        ("--limit", positive_int, "use only this many training examples (a quick try); default: all", None),
        ("--eval-every", positive_int, "evaluate and checkpoint every this many steps; default: after every epoch", None),
        ("--clip", non_negative_float, "clip the gradient norm to this (0: no clipping)", "clip"),
    )
    for flag, kind, text, key in settings:
        parser.add_argument(flag, type=kind, default=None, help=f"{text} ({_task_defaults(key)})" if key else text)
    parser.add_argument("--out", help="checkpoint folder (default runs/TASK)")
    parser.add_argument("--plot", action="store_true", help="write PNG training curves (needs matplotlib)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--profile", type=positive_int, metavar="N",
                        help="time N training steps per primitive and kernel, print the table, and stop (nothing is saved)")


def add_predict_arguments(parser):
    parser.add_argument("texts", nargs="*", help="reviews to classify, as typed (punctuation is split off as in training)")
    parser.add_argument("--checkpoint", required=True, help="a sentiment or sentiment-prompt checkpoint folder")
    parser.add_argument("--input", help="a file with one review a line")
    parser.add_argument("--json", action="store_true", help="one JSON object per review, for scripts")


def add_sample_arguments(parser):
    parser.add_argument("--checkpoint", required=True, help="a charlm checkpoint folder")
    parser.add_argument("--prompt", default="\n", help="text to continue")
    parser.add_argument("--tokens", type=positive_int, default=300, help="characters to generate")
    parser.add_argument("--temperature", type=positive_float, default=0.8, help="below 1: safer; above 1: wilder")
    parser.add_argument("--top-k", type=positive_int, help="sample only from the k likeliest characters")
    parser.add_argument("--seed", type=non_negative_int, help="random seed")


def _out(args):
    return args.out or f"runs/{args.task}"


def train(args):
    from ..train import run

    if args.profile:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="minidl-profile-") as scratch:
            result = run(args.task, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         limit=args.limit, out=args.out or scratch, profile_steps=args.profile, progress=False,
                         resume=args.resume, overwrite=args.overwrite)
        print(f"{args.task}: {result['steps']} training steps profiled (the first calls include Numba's compilation "
              f"on a cold cache)\n{result['profile']}")
        return 0
    metrics = run(args.task, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                  limit=args.limit, eval_every=args.eval_every, clip=args.clip, out=args.out, plot=args.plot,
                  resume=args.resume, overwrite=args.overwrite, progress=False if args.no_progress else None)
    shown = ", ".join(f"{k} {round(v, 4) if isinstance(v, float) else v}" for k, v in metrics.items())
    print(f"{args.task}: {shown}; checkpoint in {_out(args)}")
    return 0


def interrupted_message(args):
    """What Ctrl-C during `minidl train` leaves, in one line."""
    from ..train.checkpoint import last_complete_epoch

    folder = _out(args)
    epoch = last_complete_epoch(folder)
    if epoch is None:
        return f"interrupted before the first checkpoint; nothing to resume in {folder}"
    return f"interrupted; the last complete checkpoint (epoch {epoch}) is in {folder}; continue with --resume"


def predict(args):
    from . import UsageError
    from ..train import load
    from ..train.predictors import PromptedReviewClassifier, ReviewClassifier

    texts = list(args.texts)
    if args.input:
        with open(args.input, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
        if not lines:
            raise UsageError(f"{args.input} is empty: give one review a line")
        texts += lines
    if not texts:
        raise UsageError("give reviews as arguments or --input FILE")
    model = load(args.checkpoint)
    if not isinstance(model, (ReviewClassifier, PromptedReviewClassifier)):
        raise UsageError(f"{args.checkpoint} is a {model.task} checkpoint; predict needs sentiment or sentiment-prompt")
    for i, text in enumerate(texts):
        if not text.strip():
            print(f"minidl predict: warning: review {i + 1} is empty; its score says nothing", file=sys.stderr)
    for text, (label, prob) in zip(texts, model.predict(texts)):
        if args.json:
            print(json.dumps({"text": text, "label": label, "p_positive": round(prob, 4)}))
        else:
            print(f"{label:8s}  p(positive)={prob:.2f}  {text}")
    return 0


def sample(args):
    from . import UsageError
    from ..train import load

    model = load(args.checkpoint)
    if not hasattr(model, "generate"):
        raise UsageError(f"{args.checkpoint} is a {model.task} checkpoint; sample needs a charlm checkpoint")
    sys.stdout.write(model.generate(args.prompt, args.tokens, args.temperature, args.top_k, args.seed) + "\n")
    return 0
