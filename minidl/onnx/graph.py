"""The ONNX graph being written: value names for the arrays of a trace, nodes, initializers."""
import itertools

import numpy as np

DTYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.int32): 6,
          np.dtype(np.int64): 7, np.dtype(np.bool_): 9, np.dtype(np.float16): 10, np.dtype(np.float64): 11}


class GraphBuilder:
    """Arrays seen in a trace are known by id; every array is kept alive while the graph is
    built, so no id is reused for another array."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes, self.initializers = [], []
        self._names, self._keep, self._count = {}, [], itertools.count()
        self.constants = []  # (name, array) of values made during the forward pass
        self.state = {}  # id(array) -> (state_dict name, array): written as an initializer when first used

    def fresh(self, hint):
        return f"{hint}_{next(self._count)}"

    def bind(self, array, name):
        self._names[id(array)] = name
        self._keep.append(array)

    def known(self, array):
        return id(array) in self._names or id(array) in self.state

    def name(self, array):
        """The value name of an array of the trace; an array never seen is a constant of the forward pass."""
        key = id(array)
        if key not in self._names and key in self.state:
            state_name, array = self.state[key]
            self.bind(array, self.initializer(array, state_name))
        if key not in self._names:
            array = np.asarray(array)
            name = self.constant(array, "constant")
            self.constants.append((name, array))
            self.bind(array, name)
        return self._names[key]

    def initializer(self, array, name):
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def constant(self, value, hint="constant", dtype=None):
        """A Constant node: constants are not initializers, so counters do not take them for parameters."""
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        return self.node("Constant", [], name_hint=hint, value=self.onnx.numpy_helper.from_array(array))

    def node(self, op_type, inputs, n_outputs=1, name_hint=None, **attributes):
        """Add a node; returns its output names (one name when n_outputs is 1)."""
        hint = name_hint or op_type.lower()
        outputs = [self.fresh(hint) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outputs, name=self.fresh(op_type), **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def size_value(self, size, twin_size):
        """A 1-element int64 value holding the size of the dynamic input axis that measured `size`
        in the first trace and `twin_size` in the second (None when no input axis did)."""
        for name, axis, first, second in getattr(self, "input_sizes", ()):
            if (first, second) == (size, twin_size):
                return self.node("Slice", [self.node("Shape", [name]), self.constant([axis], "start", np.int64),
                                           self.constant([axis + 1], "end", np.int64)])
        return None
