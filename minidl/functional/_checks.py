"""Argument checks shared by the functional ops: clear errors before any kernel runs."""


def check_indices(op, indices, n_classes, shape_note, ignore=None):
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: indices must have an integer dtype (class or token ids); got {indices.dtype} "
            f"with shape {indices.shape}"
        )
    valid = indices if ignore is None else indices[indices != ignore]
    if valid.size and (valid.min() < 0 or valid.max() >= n_classes):
        bad = valid.max() if valid.max() >= n_classes else valid.min()
        raise IndexError(f"{op}: index {int(bad)} is out of range for {n_classes} {shape_note}")


def check_same_dtype(layer, x, weight, bias=None):
    """A layer's input must have its weight's dtype: PyTorch raises here too, and silently
    promoting a float32 model to float64 would double its cost."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(
                f"{layer}: input is {x.dtype} (shape {x.shape}) but the {name} is {t.dtype}; "
                f"convert the input (x.to(md.{t.dtype})) or the layer (layer.to(md.{x.dtype}))"
            )


def check_float32_or_64(op, x):
    """The compiled convolution and pooling kernels are built for float32 and float64 only."""
    if x.dtype.char not in ("f", "d"):  # not dtype.name: NumPy builds that string in Python on every call
        raise TypeError(f"{op}: input is {x.dtype} (shape {x.shape}); {op} supports float32 and float64")
