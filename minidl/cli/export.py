"""`minidl export --checkpoint DIR --out FILE.onnx`: a trained task model as an ONNX file.

The model takes token ids (B, T) for the text tasks and images (B, 1, 28, 28) for fashion;
the batch (and the length, for text) stay dynamic in the file.
"""


def add_arguments(parser):
    from .arguments import positive_int

    parser.add_argument("--checkpoint", required=True, help="a `minidl train` checkpoint folder")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default 17)")


def run(args):
    import numpy as np

    from .. import onnx
    from ..tensor import Tensor
    from ..train.predictors import load_model
    from . import UsageError

    if not args.out.endswith(".onnx"):
        raise UsageError(f"--out {args.out}: give a file name ending in .onnx")
    config, model, _ = load_model(args.checkpoint)
    model.eval()
    if config["task"] == "fashion":
        example, name, axes = Tensor(np.zeros((1, 1, 28, 28), np.float32)), "images", {0: "batch"}
    else:
        length = min(16, getattr(model, "context", 16))
        example, name, axes = Tensor(np.ones((1, length), np.int64)), "ids", {0: "batch", 1: "length"}
    onnx.export(model, example, args.out, input_names=[name], output_names=["logits"],
                dynamic_axes={name: axes, "logits": {0: "batch"}}, opset=args.opset)
    print(f"{config['task']} model written to {args.out} (input {name}, output logits)")
    return 0
