"""The `minidl` command line (also `python -m minidl`).

A user's mistake or a failure prints one line to stderr, what is wrong and what to do,
and exits 2 (usage) or 1 (failure); `--debug` (or MINIDL_DEBUG=1) shows the traceback.
Ctrl-C exits 130, and a closed pipe (`minidl explain hw-q5 | head -3`) ends quietly.
"""
import argparse
import os
import sys

from .. import __version__

SUBCOMMANDS = {
    "train": "train a model on a real data set: sentiment, sentiment-prompt, charlm, fashion",
    "predict": "classify reviews with a sentiment or sentiment-prompt checkpoint",
    "sample": "generate text from a charlm checkpoint",
    "data": "list the data sets (where they are, size, licence) or download one",
    "summary": "count parameters, MACs and FLOPs of a conv layer, a model or an ONNX file",
    "export": "write a trained checkpoint as an ONNX model",
    "explain": "show a worked exam problem step by step, as the framework computes it (--list: the cases)",
    "demo": "run two worked exam problems through the framework (RNN prompt, self-attention)",
    "bench": "time minidl against PyTorch on the benchmark workloads (kernels and training steps) and the cold start",
    "version": "print the version",
}


class UsageError(Exception):
    """A command used wrongly: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the whole usage; one line says enough
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _parser():
    parser = _Parser(prog="minidl", description="minidl: a small, fast, readable deep-learning framework",
                     epilog="--debug (anywhere, or MINIDL_DEBUG=1) shows the traceback of a failure")
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == "summary":
            from . import summary

            summary.add_arguments(command)
        if name in ("train", "predict", "sample"):
            from . import train

            getattr(train, f"add_{name}_arguments")(command)
        if name == "data":
            from . import data

            data.add_arguments(command)
        if name == "bench":
            from . import bench

            bench.add_arguments(command)
        if name == "export":
            from . import export

            export.add_arguments(command)
        if name == "explain":
            command.add_argument("case", nargs="?", help="a case id such as fe-p2.1 or hw-q1")
            command.add_argument("--list", action="store_true", help="list the cases")
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("MINIDL_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        sys.stderr.write(_interrupted(args) + "\n")
        return 130
    except BrokenPipeError:
        # the reader went away: send what is left to /dev/null so the exit's flush cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UsageError as exc:
        sys.stderr.write(f"minidl {args.command}: {exc}\n")
        return 2
    except Exception as exc:  # noqa: BLE001  every failure becomes one line, unless --debug
        if debug:
            raise
        sys.stderr.write(f"minidl {args.command}: {one_line(exc)} (--debug shows the traceback)\n")
        return 1


def one_line(exc):
    """An exception as one line: an OS error with its file, anything else with its message."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def _interrupted(args):
    if args.command == "train":
        from . import train

        return train.interrupted_message(args)
    return "interrupted"


def _run(args):
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
        from ..memory import keep_freed_memory
        from . import train

        keep_freed_memory()  # a process that trains: reuse large freed blocks (minidl/memory.py)
        return getattr(train, args.command)(args)
    if args.command == "summary":
        from . import summary

        return summary.run(args)
    if args.command == "export":
        from . import export

        return export.run(args)
    if args.command == "data":
        from . import data

        return data.run(args)
    if args.command == "bench":
        from ..memory import keep_freed_memory
        from . import bench

        keep_freed_memory()  # time minidl as `minidl train` runs it
        return bench.run(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
