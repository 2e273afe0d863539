"""F.pad: padding with a constant, or with the input reflected, replicated or wrapped."""
from .. import ops
from ..tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def pad(x: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last len(pad) // 2 dims, as `torch.nn.functional.pad`.

    `pad` lists (before, after) pairs from the last dim backwards: (left, right) pads the
    last dim, (left, right, top, bottom) the last two. In 'constant' mode a negative width
    crops. 'reflect' mirrors without repeating the edge (widths < the dim's size),
    'replicate' repeats the edge, 'circular' wraps around.
    Shape: (..., H, W) with pad (l, r, t, b) -> (..., t + H + b, l + W + r).
    Example:
        >>> F.pad(md.ones(1, 2, 3), (1, 1)).shape
        (1, 2, 5)
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs (before, after) pairs for at most {x.ndim} dims; got {pad} for shape {x.shape}")
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(MODES)}; got {mode!r}")
    pairs = [(0, 0)] * (x.ndim - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in reversed(range(0, len(pad), 2))]
    if any(p < 0 for pair in pairs for p in pair):
        if mode != "constant":
            raise ValueError(f"pad: negative widths crop in 'constant' mode only; got {pad} in {mode!r} mode")
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pairs))
        x, pairs = x[crop], [(max(b, 0), max(a, 0)) for b, a in pairs]
    for n, (before, after) in zip(x.shape, pairs):
        if mode == "reflect" and max(before, after) >= max(n, 1):
            raise ValueError(f"pad: 'reflect' widths must be smaller than the dim they pad; got {pad} for shape {x.shape}")
        if mode in ("replicate", "circular") and (before or after) and n == 0:
            raise ValueError(f"pad: {mode!r} cannot pad an empty dim (shape {x.shape})")
        if mode == "circular" and max(before, after) > n:
            raise ValueError(f"pad: 'circular' widths must be at most the dim they pad; got {pad} for shape {x.shape}")
    if mode == "constant" and value is None:
        value = 0
    return ops.Pad.apply(x, widths=tuple(pairs), mode=mode, value=value)
