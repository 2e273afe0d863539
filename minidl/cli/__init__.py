"""The `minidl` command line (also `python -m minidl`)."""
import argparse
import sys

from .. import __version__

SUBCOMMANDS = {
    "train": "train a model on a real data set: sentiment, sentiment-prompt, charlm, fashion",
    "predict": "classify reviews with a sentiment or sentiment-prompt checkpoint",
    "sample": "generate text from a charlm checkpoint",
    "version": "print the version",
    "demo": "run two worked exam problems through the framework (RNN prompt, self-attention)",
    "explain": "show a worked exam problem step by step, as the framework computes it (--list: the cases)",
    "bench": "time minidl against PyTorch on the benchmark workloads (kernels and training steps) and the cold start",
    "summary": "count parameters, MACs and FLOPs of a conv layer or of a model",
}


def _parser():
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: a small, fast, readable deep-learning framework")
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "summary":
            from . import summary

            summary.add_arguments(command)
        if name in ("train", "predict", "sample"):
            from . import train

            getattr(train, f"add_{name}_arguments")(command)
        if name == "explain":
            command.add_argument("case", nargs="?", help="a case id such as fe-p2.1 or hw-q1")
            command.add_argument("--list", action="store_true", help="list the cases")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        print(f"minidl {__version__}\n\ncommands:")
        for name, help_text in SUBCOMMANDS.items():
            print(f"  {name:10s} {help_text}")
        return 0
    if args.command == "version":
        print(f"minidl {__version__}")
        return 0
    if args.command == "demo":
        from . import explain

        return explain.demo()
    if args.command == "explain":
        from . import explain

        if args.list or not args.case:
            return explain.list_cases()
        return explain.run(args.case)
    if args.command in ("train", "predict", "sample"):
        from . import train
        from ..memory import keep_freed_memory

        keep_freed_memory()  # a process that trains: reuse large freed blocks (minidl/memory.py)

        return getattr(train, args.command)(args)
    if args.command == "summary":
        from . import summary

        return summary.run(args)
    if args.command == "bench":
        from . import bench
        from ..memory import keep_freed_memory

        keep_freed_memory()  # time minidl as `minidl train` runs it
        bench.report()
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
