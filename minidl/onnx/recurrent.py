"""RNN, LSTM and GRU layers as ONNX's RNN, LSTM and GRU operators, one node per layer.

ONNX orders the gates differently (LSTM i, o, f, c where PyTorch and minidl use i, f, g, o;
GRU z, r, h where they use r, z, n), stacks both directions in one node, and puts the
direction axis in its outputs: Y is (T, D, B, H). GRU's n gate applies the reset gate
after the recurrent product, which is ONNX's linear_before_reset=1.
"""
import numpy as np

GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _reorder(array, kind):
    blocks = np.split(array, len(GATE_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in GATE_ORDER[kind]], axis=0)


def _layer_weights(module, layer, directions):
    """W (D, G*H, I), R (D, G*H, H) and B (D, 2*G*H) in ONNX's gate order (B None without biases)."""
    kind = module.kind if hasattr(module, "kind") else "RNN"
    w, r, b = [], [], []
    for suffix in ("", "_reverse")[:directions]:
        w.append(_reorder(getattr(module, f"weight_ih_l{layer}{suffix}").data, kind))
        r.append(_reorder(getattr(module, f"weight_hh_l{layer}{suffix}").data, kind))
        if module.bias:
            b.append(np.concatenate([_reorder(getattr(module, f"bias_ih_l{layer}{suffix}").data, kind),
                                     _reorder(getattr(module, f"bias_hh_l{layer}{suffix}").data, kind)]))
    return np.stack(w), np.stack(r), (np.stack(b) if b else None)


def export_recurrent(g, module, prefix, x_name, x, state_names):
    """Nodes for one call of an nn.RNN/LSTM/GRU; returns the names of (output, final state(s)).
    Shape: as the layer's forward (batch_first, unbatched and bidirectional included)."""
    kind = getattr(module, "kind", "RNN")
    if kind == "RNN" and module.nonlinearity == "identity":
        raise NotImplementedError(f"{prefix or 'RNN'}: nonlinearity 'identity' (ONNX's RNN has no identity activation)")
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    value = x_name
    if x.ndim == 2:
        value = g.node("Unsqueeze", [value, g.constant([1], "axes", np.int64)])
    elif module.batch_first:
        value = g.node("Transpose", [value], perm=[1, 0, 2])
    attributes = dict(hidden_size=hidden, direction="bidirectional" if directions == 2 else "forward")
    if kind == "RNN":
        attributes["activations"] = ["Tanh" if module.nonlinearity == "tanh" else "Relu"] * directions
    if kind == "GRU":
        attributes["linear_before_reset"] = 1
    finals_h, finals_c = [], []
    for layer in range(module.num_layers):
        w, r, b = _layer_weights(module, layer, directions)
        name = f"{prefix}.l{layer}" if prefix else f"{kind.lower()}.l{layer}"
        inputs = [value, g.initializer(w, name + ".W"), g.initializer(r, name + ".R"),
                  g.initializer(b, name + ".B") if b is not None else "", ""]
        for state in state_names:  # initial h (and c): this layer's slice of (L*D, B, H)
            if state is None:
                inputs.append("")
                continue
            if x.ndim == 2:
                state = g.node("Unsqueeze", [state, g.constant([1], "axes", np.int64)])
            inputs.append(g.node("Slice", [state, g.constant([layer * directions], "starts", np.int64),
                                           g.constant([(layer + 1) * directions], "ends", np.int64),
                                           g.constant([0], "axes", np.int64)]))
        while inputs and inputs[-1] == "":
            inputs.pop()
        outputs = g.node(kind, inputs, n_outputs=3 if kind == "LSTM" else 2, **attributes)
        y = g.node("Transpose", [outputs[0]], perm=[0, 2, 1, 3])  # (T, B, D, H)
        value = g.node("Reshape", [y, g.constant([0, 0, directions * hidden], "shape", np.int64)])
        finals_h.append(outputs[1])
        if kind == "LSTM":
            finals_c.append(outputs[2])
    finals = [finals_h] + ([finals_c] if kind == "LSTM" else [])
    finals = [f[0] if len(f) == 1 else g.node("Concat", f, axis=0) for f in finals]
    if x.ndim == 2:
        axes = g.constant([1], "axes", np.int64)
        value = g.node("Squeeze", [value, axes])
        finals = [g.node("Squeeze", [f, axes]) for f in finals]
    elif module.batch_first:
        value = g.node("Transpose", [value], perm=[1, 0, 2])
    return value, finals
