"""`minidl summary`: parameters and MACs of one conv layer (formulas filled in) or of a user's model."""
import argparse
import importlib

import numpy as np

from .arguments import non_negative_int, positive_int


def _dims(text, count=None, example="1x3x224x224"):
    """'256x27x27' -> (256, 27, 27): positive sizes, `count` of them when given."""
    try:
        dims = tuple(int(v) for v in text.lower().replace(",", "x").split("x"))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1 or (count is not None and len(dims) != count):
        raise argparse.ArgumentTypeError(f"{text!r} is not {count or 'some'} positive sizes joined by x, e.g. {example}")
    return dims


def _conv_input(text):
    return _dims(text, 3, "256x27x27 (depth x height x width)")


def add_arguments(parser):
    parser.add_argument("layer", nargs="?", choices=["conv2d"], help="count one layer (only conv2d for now)")
    parser.add_argument("--input", type=_conv_input, help="conv2d input as DEPTHxHEIGHTxWIDTH, e.g. 256x27x27")
    parser.add_argument("--out-channels", type=positive_int, help="conv2d filters K")
    parser.add_argument("--kernel", type=positive_int, help="conv2d filter size F")
    parser.add_argument("--stride", type=positive_int, default=1)
    parser.add_argument("--padding", type=non_negative_int, default=0)
    parser.add_argument("--no-bias", action="store_true")
    parser.add_argument("--model", help="module.path:factory returning an nn.Module, e.g. minidl.models:resnet18")
    parser.add_argument("--onnx", metavar="FILE.onnx", help="count an ONNX model (give --input-size when its inputs are dynamic)")
    parser.add_argument("--input-size", type=_dims, help="model input shape with the batch, e.g. 1x3x224x224")
    parser.add_argument("--dtype", default="float32", help="input dtype (int64 for token ids)")


def conv2d_report(depth, height, width, out_channels, kernel, stride=1, padding=0, bias=True):
    """The homework's arithmetic, checked by running the layer through md.summary."""
    from .. import nn
    from ..summary import summary

    h2 = (height - kernel + 2 * padding) // stride + 1
    w2 = (width - kernel + 2 * padding) // stride + 1
    if (height - kernel + 2 * padding) % stride or (width - kernel + 2 * padding) % stride:
        note = " (not a whole number: the last rows/columns are dropped, as in PyTorch)"
    else:
        note = ""
    result = summary(nn.Conv2d(depth, out_channels, kernel, stride, padding, bias=bias), input_size=(1, depth, height, width))
    per_filter = kernel * kernel * depth + (1 if bias else 0)
    lines = [
        f"conv2d: input {depth}x{height}x{width} (D1 x H1 x W1), {out_channels} filters {kernel}x{kernel}, stride {stride}, padding {padding}",
        f"output size: W2 = (W1 - F + 2P)/S + 1 = ({width} - {kernel} + 2*{padding})/{stride} + 1 = {w2}; "
        f"H2 = ({height} - {kernel} + 2*{padding})/{stride} + 1 = {h2}{note}",
        f"output: {out_channels}x{h2}x{w2} (D2 x H2 x W2)",
        f"parameters: (F*F*D1{' + 1' if bias else ''}) * K = ({kernel}*{kernel}*{depth}{' + 1' if bias else ''}) * {out_channels} = {per_filter * out_channels:,}",
        f"multiplications (MACs): (F*F*D1) * (W2*H2*D2) = ({kernel}*{kernel}*{depth}) * ({w2}*{h2}*{out_channels}) = "
        f"{kernel * kernel * depth * w2 * h2 * out_channels:,}",
        f"counted by md.summary: {result.totals['params']:,} parameters, {result.totals['macs']:,} MACs, {result.totals['flops']:,} FLOPs",
    ]
    return "\n".join(lines), result


def run(args):
    from ..summary import summary
    from . import UsageError

    if args.layer == "conv2d":
        if not (args.input and args.out_channels and args.kernel):
            raise UsageError("conv2d needs --input DxHxW --out-channels K --kernel F")
        depth, height, width = args.input
        text, _ = conv2d_report(depth, height, width, args.out_channels, args.kernel, args.stride, args.padding, not args.no_bias)
        print(text)
        return 0
    if args.onnx:
        import os

        from ..onnx.count import summary as onnx_summary

        if not os.path.exists(args.onnx):
            raise UsageError(f"--onnx {args.onnx}: no such file")
        try:
            print(onnx_summary(args.onnx, input_size=args.input_size))
        except ValueError as exc:
            raise UsageError(str(exc).replace("summary: ", "")) from None
        return 0
    if args.model:
        if not args.input_size:
            raise UsageError("--model needs --input-size (batch included), e.g. 1x3x224x224")
        module_name, _, factory = args.model.partition(":")
        model = getattr(importlib.import_module(module_name), factory or "model")()
        print(summary(model, input_size=args.input_size, dtype=np.dtype(args.dtype)))
        return 0
    raise UsageError("give a layer (conv2d ...) or --model module.path:factory --input-size ...")
