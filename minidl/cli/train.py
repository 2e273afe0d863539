"""`minidl train | predict | sample`: the command line of the training tasks."""
import sys


def add_train_arguments(parser):
    from ..train import TASKS

    parser.add_argument("task", choices=sorted(TASKS), help="what to train")
    for flag, kind in (("--epochs", int), ("--steps", int), ("--batch-size", int), ("--lr", float), ("--seed", int),
                       ("--limit", int), ("--eval-every", int)):
        parser.add_argument(flag, type=kind)
    parser.add_argument("--out", help="checkpoint folder (default runs/TASK)")
    parser.add_argument("--plot", action="store_true", help="write PNG training curves (needs matplotlib)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_predict_arguments(parser):
    parser.add_argument("texts", nargs="*", help="reviews to classify")
    parser.add_argument("--checkpoint", required=True, help="a sentiment or sentiment-prompt checkpoint folder")
    parser.add_argument("--input", help="a file with one review a line")


def add_sample_arguments(parser):
    parser.add_argument("--checkpoint", required=True, help="a charlm checkpoint folder")
    parser.add_argument("--prompt", default="\n")
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--seed", type=int)


def train(args):
    from ..train import run

    metrics = run(args.task, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                  limit=args.limit, eval_every=args.eval_every, out=args.out, plot=args.plot, resume=args.resume,
                  progress=False if args.no_progress else None)
    shown = ", ".join(f"{k} {v}" for k, v in metrics.items())
    print(f"{args.task}: {shown}; checkpoint in {args.out or 'runs/' + args.task}")
    return 0


def predict(args):
    from ..train import load
    from ..train.predictors import PromptedReviewClassifier, ReviewClassifier

    texts = list(args.texts)
    if args.input:
        with open(args.input, encoding="utf-8", errors="replace") as f:
            texts += [line.strip() for line in f if line.strip()]
    if not texts:
        raise SystemExit("minidl predict: give reviews as arguments or --input FILE")
    model = load(args.checkpoint)
    if not isinstance(model, (ReviewClassifier, PromptedReviewClassifier)):
        raise SystemExit(f"minidl predict: {args.checkpoint} is not a sentiment or sentiment-prompt checkpoint")
    for text, (label, prob) in zip(texts, model.predict(texts)):
        print(f"{label}\t{prob:.3f}\t{text}")
    return 0


def sample(args):
    from ..train import load

    model = load(args.checkpoint)
    if not hasattr(model, "generate"):
        raise SystemExit(f"minidl sample: {args.checkpoint} is not a charlm checkpoint")
    sys.stdout.write(model.generate(args.prompt, args.tokens, args.temperature, args.top_k, args.seed) + "\n")
    return 0
