"""md.onnx.load: an ONNX model as a minidl Module that runs its graph with minidl's ops.

Initializers become Parameters (floating point) or buffers, so the loaded model can be
counted, saved with md.save, and fine-tuned: gradients flow through every operator
that minidl computes with its primitives.
"""
import numpy as np

from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from . import recurrent_operators  # noqa: F401  (registers LSTM, GRU, RNN)
from .operators import OPERATORS


class UnsupportedOperators(ValueError):
    pass


def _attributes(onnx, node):
    found = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    found = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in found.items()}
    found["_op"], found["_outputs"] = node.op_type, len(node.output)
    return found


class OnnxModule(Module):
    """Runs one ONNX graph. Shape: as the graph's inputs and outputs (`.input_names`, `.output_names`)."""

    def __init__(self, proto):
        super().__init__()
        import onnx
        from onnx import numpy_helper

        graph = proto.graph
        missing = sorted({n.op_type for n in graph.node if n.domain in ("", "ai.onnx") and n.op_type not in OPERATORS}
                         | {f"{n.domain}.{n.op_type}" for n in graph.node if n.domain not in ("", "ai.onnx")})
        if missing:
            raise UnsupportedOperators(f"onnx.load: minidl has no implementation of {len(missing)} operator(s) in "
                                       f"this graph: {', '.join(missing)}")
        self.proto = proto
        self.onnx_names = {}  # attribute name -> initializer name
        for i, init in enumerate(graph.initializer):
            array = numpy_helper.to_array(init).copy()
            attribute = f"onnx_{i}"
            if array.dtype.kind == "f":
                setattr(self, attribute, Parameter(array))
            else:
                self.register_buffer(attribute, Tensor(array))
            self.onnx_names[init.name] = attribute
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attributes(onnx, n)) for n in graph.node]
        known = set(self.onnx_names)
        self.input_names = [i.name for i in graph.input if i.name not in known]
        self.output_names = [o.name for o in graph.output]

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise ValueError(f"OnnxModule: the graph takes {len(self.input_names)} input(s) "
                             f"({', '.join(self.input_names)}); got {len(inputs)}")
        values = {name: getattr(self, attribute) for name, attribute in self.onnx_names.items()}
        values.update({name: x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for name, x in zip(self.input_names, inputs)})
        for op_type, names_in, names_out, attributes in self.nodes:
            args = [values[n] if n else None for n in names_in]
            try:
                result = OPERATORS[op_type](args, attributes)
            except NotImplementedError as exc:
                raise UnsupportedOperators(f"onnx.load: minidl cannot run {op_type} here: {exc}") from None
            results = result if isinstance(result, (list, tuple)) else [result]
            for name, value in zip(names_out, results):
                if name:
                    values[name] = value
        outputs = [values[n] for n in self.output_names]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def load(path_or_proto):
    """An ONNX file (or onnx.ModelProto) as a minidl Module; raises UnsupportedOperators listing
    every operator minidl lacks. Shape: the graph's."""
    from .export import _onnx

    onnx = _onnx()
    proto = path_or_proto if isinstance(path_or_proto, onnx.ModelProto) else onnx.load(str(path_or_proto))
    return OnnxModule(proto)
