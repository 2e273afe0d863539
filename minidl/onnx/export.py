"""md.onnx.export: run the forward once, record the primitives it called, write an ONNX model.

The trace hooks into `Function.apply` (every primitive, with its parameters) and into
tensor comparisons (the conditions of `where`); the RNN layers are recorded whole, by
forward hooks, and written as ONNX's recurrent operators. Parameters and buffers become
initializers under their state_dict names; any other array the forward made (a mask,
a running statistic folded into a constant) becomes a constant initializer.

With dynamic axes, the forward runs twice, at the given sizes and with each dynamic axis
one larger: the dims that changed are the dynamic ones, so a reshape keeps them (0 or -1
in ONNX's target shape), and a constant whose shape changed is an error rather than a
graph that only works at one size.
"""
import numpy as np

from ..autograd.function import _tracers
from ..autograd.grad_mode import no_grad
from ..nn.rnn import _RNNBase
from ..tensor import Tensor, _comparison_tracers
from .graph import DTYPES, GraphBuilder
from .primitives import CONVERTERS
from .recurrent import export_recurrent

DEFAULT_OPSET = 17

_COMPARISONS = {np.less: "Less", np.less_equal: "LessOrEqual", np.greater: "Greater",
                np.greater_equal: "GreaterOrEqual", np.equal: "Equal"}


class ExportError(ValueError):
    pass


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("md.onnx needs the onnx package: pip install 'minidl[onnx]'") from None
    return onnx


def _flatten(value):
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value if v is not None for t in _flatten(v)]
    raise ExportError(f"export: the model returned a {type(value).__name__}; expected tensors (or tuples of them)")


class _Trace:
    """One forward pass, recorded: for each primitive (in call order) its node, inputs, output(s), parameters."""

    def __init__(self, model, inputs):
        self.events = []
        self.model, self.inputs = model, inputs
        self._inside_recurrent = 0

    def run(self):
        hooks, self._layers = [], []
        for prefix, module in self.model.named_modules() if hasattr(self.model, "named_modules") else ():
            hooks.append(module.register_forward_pre_hook(self._enter_layer(prefix)))
            hooks.append(module.register_forward_hook(self._leave_layer))
            if isinstance(module, _RNNBase):
                hooks.append(module.register_forward_pre_hook(self._enter_recurrent))
                hooks.append(module.register_forward_hook(self._recurrent(prefix)))
        _tracers.append(self._primitive)
        _comparison_tracers.append(self._comparison)
        try:
            with no_grad():
                self.output = self.model(*self.inputs)
        finally:
            _tracers.remove(self._primitive)
            _comparison_tracers.remove(self._comparison)
            for hook in hooks:
                hook.remove()
        return self

    def _enter_layer(self, prefix):
        def hook(module, args):
            self._layers.append(f"{prefix or 'the model'} ({type(module).__name__})")

        return hook

    def _leave_layer(self, module, args, output):
        self._layers.pop()

    def _primitive(self, ctx, out, arrays, params):
        if not self._inside_recurrent:
            layer = self._layers[-1] if self._layers else "the model"
            self.events.append(("primitive", ctx, list(arrays), dict(params), layer, out))

    def _comparison(self, fn, a, b, out):
        if not self._inside_recurrent:
            self.events.append(("compare", fn, a, b, out))

    def _enter_recurrent(self, module, args):
        self._inside_recurrent += 1

    def _recurrent(self, prefix):
        def hook(module, args, output):
            self._inside_recurrent -= 1
            if not self._inside_recurrent:
                self.events.append(("recurrent", module, prefix, args, output))

        return hook


def _shapes(trace):
    """The shape of every array an event produced, in event order (for comparing two traces)."""
    shapes = []
    for event in trace.events:
        out = event[-1]
        shapes.append([t.shape for t in _flatten(out)] if event[0] == "recurrent"
                      else [o.shape for o in (out if isinstance(out, tuple) else (out,))])
    return shapes


def export(model, example_inputs, path, input_names=None, output_names=None, dynamic_axes=None, opset=None):
    """Write `model` (a Module in eval mode, or any callable of Tensors) as an ONNX file at `path`.

    `example_inputs`: a Tensor or a tuple of them, run once. `dynamic_axes` maps an input
    (or output) name to the axes that may change size: {"input_0": {0: "batch"}} or
    {"input_0": [0, 1]}. Returns the onnx.ModelProto that was written.
    Example:
        >>> md.onnx.export(model.eval(), md.randn(1, 3, 32, 32), "model.onnx", dynamic_axes={"input_0": {0: "batch"}})
    """
    onnx = _onnx()
    inputs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    inputs = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
    input_names = list(input_names or [f"input_{i}" for i in range(len(inputs))])
    if len(input_names) != len(inputs):
        raise ExportError(f"export: {len(input_names)} input names for {len(inputs)} inputs")
    dynamic = _dynamic_axes(dynamic_axes or {}, input_names)

    trace = _Trace(model, inputs).run()
    outputs = _flatten(trace.output)
    output_names = list(output_names or [f"output_{i}" for i in range(len(outputs))])
    if len(output_names) != len(outputs):
        raise ExportError(f"export: {len(output_names)} output names for the model's {len(outputs)} outputs")

    dynamic_dims, second = {}, None
    if any(dynamic.get(name) for name in input_names):
        second = _Trace(model, _grown(inputs, input_names, dynamic)).run()
        dynamic_dims = _dynamic_dims(inputs, input_names, dynamic, trace, second)
    g = _build(onnx, model, inputs, input_names, trace, dynamic_dims, second, dynamic)
    if second is not None:
        _refuse_size_dependent_constants(g, _build(onnx, model, second.inputs, input_names, second, {}))

    graph_outputs = []
    for t, name in zip(outputs, output_names):
        g.nodes.append(onnx.helper.make_node("Identity", [g.name(t.data)], [name], name=g.fresh("Identity")))
        graph_outputs.append(_value_info(onnx, name, t.data, dynamic.get(name, {}), g.dynamic(t.data)))
    graph_inputs = [_value_info(onnx, name, x.data, dynamic.get(name, {}), set()) for x, name in zip(inputs, input_names)]
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs, g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset or DEFAULT_OPSET)],
                                   producer_name="minidl")
    proto.ir_version = min(proto.ir_version, 10)  # what current ONNX Runtime releases read
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return proto


def _build(onnx, model, inputs, input_names, trace, dynamic_dims, second=None, dynamic=None):
    """The graph of one trace: inputs, initializers, then every event's nodes. With a second
    trace (dynamic axes), each converter can see its twin call's parameters (`g.twin`), and
    sizes that follow a dynamic input axis can be read from that input's shape (`g.size_value`)."""
    g = GraphBuilder(onnx)
    g.dynamic_dims = dynamic_dims
    g.input_sizes = []
    if second is not None:
        for x, x2, name in zip(inputs, second.inputs, input_names):
            for axis in (dynamic or {}).get(name, {}):
                g.input_sizes.append((name, axis, x.shape[axis], x2.shape[axis]))
    g.dynamic = lambda array: g.dynamic_dims.get(id(array), set())
    g.reshape_target = lambda source, out: _reshape_target(g, source, out)
    for x, name in zip(inputs, input_names):
        g.bind(x.data, name)
    state = model._state_tensors().items() if hasattr(model, "_state_tensors") else ()
    for name, tensor in state:
        g.state.setdefault(id(tensor.data), (name, tensor.data))
    twins = second.events if second is not None else [None] * len(trace.events)
    for event, twin in zip(trace.events, twins):
        g.twin = twin[3] if twin is not None and twin[0] == "primitive" else None  # its params
        _convert(g, event)
    return g


def _convert(g, event):
    kind = event[0]
    if kind == "compare":
        _, fn, a, b, out = event
        b_name = g.name(b) if isinstance(b, np.ndarray) and g.known(b) else g.constant(b, "compare", a.dtype)
        g.bind(out, g.node(_COMPARISONS[fn], [g.name(a), b_name]))
        return
    if kind == "recurrent":
        _, module, prefix, args, output = event
        x = args[0]
        hx = args[1] if len(args) > 1 else None
        states = list(hx) if isinstance(hx, tuple) else [hx]
        states += [None] * ((2 if getattr(module, "kind", "RNN") == "LSTM" else 1) - len(states))
        names = [None if s is None else g.name(s.data) for s in states]
        try:
            value, finals = export_recurrent(g, module, prefix, g.name(x.data), x, names)
        except NotImplementedError as exc:
            raise ExportError(f"export: {exc}") from None
        out, final = output
        g.bind(out.data, value)
        for t, name in zip(final if isinstance(final, tuple) else (final,), finals):
            g.bind(t.data, name)
        return
    _, ctx, arrays, params, layer, out = event
    name = type(ctx).__name__
    converter = CONVERTERS.get(name)
    if converter is None:
        raise ExportError(f"export: the primitive {name}, called by {layer}, has no ONNX mapping")
    try:
        result = converter(g, ctx, [g.name(a) for a in arrays], arrays, params, out)
    except NotImplementedError as exc:
        raise ExportError(f"export: {exc}, called by {layer}, has no ONNX mapping") from None
    for array, value in zip(out if isinstance(out, tuple) else (out,), result if isinstance(result, list) else [result]):
        if g.known(array):  # the primitive returned its input itself
            value = g.node("Identity", [value])
        g.bind(array, value)


def _dynamic_axes(dynamic_axes, input_names):
    out = {}
    for name, axes in dynamic_axes.items():
        out[name] = dict(axes) if isinstance(axes, dict) else {int(a): f"{name}_dim{a}" for a in axes}
    return out


def _grown(inputs, input_names, dynamic):
    """The inputs with each dynamic axis one larger (its last slice repeated)."""
    grown = []
    for x, name in zip(inputs, input_names):
        axes = dynamic.get(name, {})
        pad = [(0, 1 if axis in axes else 0) for axis in range(x.ndim)]
        grown.append(Tensor(np.pad(x.data, pad, mode="edge")) if axes else x)
    return tuple(grown)


def _dynamic_dims(inputs, input_names, dynamic, trace, second):
    """id(array) -> the axes whose size changed between the two traces."""
    first_shapes, second_shapes = _shapes(trace), _shapes(second)
    if len(first_shapes) != len(second_shapes):
        raise ExportError("export: the model runs different operations at another input size; "
                          "it cannot be exported with dynamic axes")
    dims = {id(x.data): set(dynamic.get(name, {})) for x, name in zip(inputs, input_names)}
    for event, a, b in zip(trace.events, first_shapes, second_shapes):
        out = event[-1]
        arrays = [t.data for t in _flatten(out)] if event[0] == "recurrent" else list(out if isinstance(out, tuple) else (out,))
        for array, sa, sb in zip(arrays, a, b):
            if sa != sb:
                dims[id(array)] = {i for i, (m, n) in enumerate(zip(sa, sb)) if m != n}
    return dims


def _reshape_target(g, source, out):
    """ONNX's target shape for a reshape: each dynamic dim kept from the input (0) where it stays in
    place, else inferred (-1, for one dim at most)."""
    dynamic_out = g.dynamic(out)
    if not dynamic_out:
        return list(out.shape)
    dynamic_in = g.dynamic(source)
    target, inferred = [], 0
    for axis, n in enumerate(out.shape):
        if axis not in dynamic_out:
            target.append(n)
        elif axis in dynamic_in and axis < source.ndim and source.shape[axis] == n:
            target.append(0)
        else:
            target.append(-1)
            inferred += 1
    if inferred > 1:
        raise ExportError(f"export: a reshape from {source.shape} to {out.shape} has {inferred} dims that depend on "
                          "the input size in ways ONNX's Reshape cannot say")
    return target


def _refuse_size_dependent_constants(g, g_second):
    """A constant made during the forward whose shape follows the input's size would pin the
    graph to one size: the two traces' constants, in order, must have the same shapes."""
    for (name, a), (_, b) in zip(g.constants, g_second.constants):
        if a.shape != b.shape:
            raise ExportError(f"export: the constant {name} of shape {a.shape} (made during the forward pass) "
                              f"depends on the input size; it cannot be exported with dynamic axes")


def _value_info(onnx, name, array, named_axes, dynamic_dims):
    shape = []
    for axis, n in enumerate(array.shape):
        if axis in named_axes:
            shape.append(named_axes[axis])
        elif axis in dynamic_dims:
            shape.append(f"{name}_dim{axis}")
        else:
            shape.append(n)
    return onnx.helper.make_tensor_value_info(name, DTYPES[array.dtype], shape)
