"""Count an ONNX model as `md.summary` counts a minidl one: per node, its output shape,
parameters, MACs and FLOPs, and the totals.

Shapes come from the onnx package's shape inference, with the input sizes given for
dynamic inputs. The conventions are md.summary's: a convolution's F*F*D1 MACs per
output value, both attention matmuls (they are MatMul nodes), every RNN time step;
FLOPs are 2 x MACs plus one per output element for element-wise work. Parameters are
the floating-point initializers the nodes read, each value name once (so a tied weight
counts once), and an Identity node's output as a value of its own (exporters put one in
front of an initializer whose values equal another layer's: each layer counts its own);
BatchNormalization's running mean and variance are buffers, not parameters.
"""
import numpy as np

from ..summary import CONVENTIONS, Row, Summary

ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Neg", "Exp", "Log", "Sqrt", "Abs", "Tanh", "Sigmoid", "Relu",
               "LeakyRelu", "Elu", "Erf", "Clip", "Where", "Max", "Min", "Less", "Greater", "Equal", "LessOrEqual",
               "GreaterOrEqual", "Not", "Reciprocal"}
FREE = {"Identity", "Constant", "ConstantOfShape", "Shape", "Gather", "GatherElements", "Unsqueeze", "Squeeze",
        "Concat", "Reshape", "Flatten", "Transpose", "Expand", "Slice", "Split", "Cast", "Dropout", "Range", "Mod",
        "Trilu", "Pad"}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _numel(shape):
    return int(np.prod(shape)) if shape is not None else 0


def _attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            from onnx import helper

            return helper.get_attribute_value(a)
    return default


def _with_input_sizes(onnx, proto, input_size):
    """A copy of the model whose graph inputs have the given sizes (one shape, or one per input)."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if input_size is None:
        for i in inputs:
            if any(not d.HasField("dim_value") for d in i.type.tensor_type.shape.dim):
                raise ValueError(f"summary: the ONNX input {i.name!r} has dynamic dims; give input_size "
                                 "(on the command line: --input-size 1x3x224x224)")
        return proto
    sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
    if len(sizes) != len(inputs):
        raise ValueError(f"summary: {len(sizes)} input size(s) for the model's {len(inputs)} input(s)")
    for i, size in zip(inputs, sizes):
        dims = i.type.tensor_type.shape.dim
        if len(dims) != len(size):
            raise ValueError(f"summary: input {i.name!r} has {len(dims)} dims; got the size {tuple(size)}")
        for d, n in zip(dims, size):
            d.Clear()
            d.dim_value = int(n)
    return proto


def _shapes(onnx, proto):
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    shapes = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = info.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    for init in inferred.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _macs(node, shapes):
    op, ins, out = node.op_type, node.input, shapes.get(node.output[0]) if node.output else None
    if op == "Conv":
        w = shapes[ins[1]]
        return _numel(out) * int(np.prod(w[1:]))
    if op == "ConvTranspose":
        x, w = shapes[ins[0]], shapes[ins[1]]
        return _numel(x) * int(np.prod(w[1:]))
    if op == "Gemm":
        a = shapes[ins[0]]
        return _numel(out) * (a[0] if _attribute(node, "transA", 0) else a[1])
    if op == "MatMul":
        return _numel(out) * shapes[ins[0]][-1]
    if op in _GATES:  # every time step: the input and the recurrent product of every gate, each direction
        w, r = shapes[ins[1]], shapes[ins[2]]
        x = shapes[ins[0]]
        steps, batch = (x[1], x[0]) if _attribute(node, "layout", 0) else (x[0], x[1])
        return steps * batch * w[0] * (w[1] * w[2] + r[1] * r[2])
    return 0


def _flops(node, shapes, macs):
    op, out = node.op_type, shapes.get(node.output[0]) if node.output else None
    elements = _numel(out)
    if op in FREE:
        return 0
    if op in ("Conv", "ConvTranspose", "Gemm"):
        return 2 * macs + (elements if len(node.input) > 2 and node.input[2] else 0)
    if op in ("MatMul",) or op in _GATES:
        return 2 * macs
    if op in ELEMENTWISE:
        return elements
    if op in ("MaxPool", "AveragePool"):
        return elements * int(np.prod(_attribute(node, "kernel_shape", [1])))
    if op in ("GlobalAveragePool", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"):
        return _numel(shapes.get(node.input[0]))
    if op == "BatchNormalization":  # centre, scale, weight, bias: minidl's evaluation-mode composite
        return 4 * elements
    if op == "LayerNormalization":
        x = shapes.get(node.input[0])
        axis = _attribute(node, "axis", -1) % len(x)
        affine = sum(1 for i in node.input[1:3] if i)
        return (5 + affine) * elements + 2 * int(np.prod(x[:axis]))
    if op in ("Softmax", "LogSoftmax"):
        return 4 * elements
    return elements


def summary(model, input_size=None, print_summary=False):
    """Per-node rows and totals of an ONNX model (a path or an onnx.ModelProto), as md.summary.
    `input_size`: the input shape (or one per input), needed when the graph's inputs are dynamic."""
    from .export import _onnx

    onnx = _onnx()
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    proto = _with_input_sizes(onnx, proto, input_size)
    shapes = _shapes(onnx, proto)
    floats = {i.name: _numel(tuple(i.dims)) for i in proto.graph.initializer
              if i.data_type in (1, 10, 11, 16)}  # float, float16, double, bfloat16
    aliases = {}
    for node in proto.graph.node:  # exporters share equal initializers through Identity nodes
        if node.op_type == "Identity" and node.input[0] in floats:
            aliases[node.output[0]] = node.input[0]
    rows, totals = [], {"params": 0, "trainable_params": 0, "macs": 0, "flops": 0}
    counted = set()  # each value name once: a weight two nodes share (tied) is one parameter tensor
    for i, node in enumerate(proto.graph.node):
        if node.op_type in ("Identity", "Constant") and not (node.output[0] in (o.name for o in proto.graph.output)):
            continue
        inputs = list(node.input[:3]) if node.op_type == "BatchNormalization" else list(node.input)
        fresh = [name for name in inputs if aliases.get(name, name) in floats and name not in counted]
        counted.update(fresh)
        params = sum(floats[aliases.get(name, name)] for name in fresh)
        macs = _macs(node, shapes)
        flops = _flops(node, shapes, macs)
        out = shapes.get(node.output[0], ()) if node.output else ()
        rows.append(Row(node.name or f"{node.op_type}_{i}", node.op_type, 1, out, params, params, macs, flops))
        for key, value in (("params", params), ("trainable_params", params), ("macs", macs), ("flops", flops)):
            totals[key] += value
    name = proto.graph.name or "onnx model"
    rows.insert(0, Row(name, "ONNX graph", 0, shapes.get(proto.graph.output[0].name, ()), totals["params"],
                       totals["params"], totals["macs"], totals["flops"]))
    result = Summary(proto, rows, totals)
    if print_summary:
        print(result)
    return result


__all__ = ["summary", "CONVENTIONS"]
