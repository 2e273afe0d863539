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
