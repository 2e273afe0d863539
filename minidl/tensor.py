"""`Tensor`: an ndarray plus the graph node that made it.

`Tensor.data` is the NumPy array itself (no copy); `Tensor.grad` is a Tensor
filled by `backward()`. Every differentiable method is one call into a
primitive in `minidl.ops`; the engine in `minidl.autograd.engine` walks the
nodes backwards.
"""
import math
import numbers

import numpy as np

float32 = np.float32
float64 = np.float64
int64 = np.int64
bool_ = np.bool_


def as_array(data, dtype=None, copy=False) -> np.ndarray:
    """Turn user data into an ndarray with minidl's default dtypes.

    Python floats become float32 and Python ints int64 (as in PyTorch); an
    ndarray keeps its dtype, so float64 input stays float64.
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        array = np.array([as_array(d) for d in data])
    else:
        array = np.asarray(data)
        if dtype is None and array.dtype == np.float64 and not isinstance(data, np.generic):
            array = array.astype(np.float32)  # Python floats -> float32 by default
        elif dtype is None and array.dtype.kind in "iu" and not isinstance(data, np.generic):
            array = array.astype(np.int64)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if array.dtype != dtype:
            return array.astype(dtype)
    return array.copy() if copy else array


def _check_grad_dtype(dtype, where="requires_grad"):
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"{where}: only floating-point tensors can require gradients; got dtype {np.dtype(dtype)}")


_comparison_tracers = []  # callables (ufunc, a, b, out); empty unless the ONNX exporter traces


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Example:
        >>> x = md.tensor([[1.0, 2.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad            # tensor([[2., 4.]])
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "_out_index", "_retains_grad", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor -> Tensor)
    __hash__ = object.__hash__  # comparisons are element-wise, identity stays hashable

    def __init__(self, data, dtype=None, requires_grad=False):
        self.data = as_array(data, dtype)
        if requires_grad:
            _check_grad_dtype(self.data.dtype)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._out_index = 0
        self._retains_grad = False

    @classmethod
    def _wrap(cls, array, requires_grad=False, ctx=None, out_index=0):
        """Fast constructor for op outputs: no conversion, no checks."""
        t = object.__new__(Tensor)
        t.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = ctx
        t._out_index = out_index
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- info
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ValueError(f"mT: needs at least 2 dims; got shape {self.shape}")
        return self.transpose(-2, -1)

    def t(self):
        """The transpose of a tensor of at most 2 dims, as `torch.Tensor.t`."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor of at most 2 dims; got shape {self.shape} (use transpose or mT)")
        return self.transpose(0, -1) if self.ndim == 2 else self

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.data.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---------------------------------------------------- conversion to numpy
    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared memory, like `torch.Tensor.numpy`)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python scalar; got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data.item())

    # ------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `grad` is needed unless `self` has one element. The graph's saved values are freed
        afterwards; `retain_graph=True` keeps them for another backward, as in PyTorch.
        """
        from .autograd.engine import backward

        backward(self, grad, retain_graph)

    def detach(self):
        """The same data (shared) with no graph and `requires_grad=False`."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad=True):
        if requires_grad:
            _check_grad_dtype(self.dtype)
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor during backward."""
        self._retains_grad = True
        return self

    def zero_(self):
        """Fill with zeros in place (not recorded: use on `.grad` or under no_grad)."""
        self.data[...] = 0
        return self

    def __setitem__(self, key, value):
        if self.requires_grad or self._ctx is not None:
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that is part of a graph would corrupt its "
                "gradients; build a new tensor (e.g. md.where) or assign under .detach()"
            )
        self.data[_index_key(key)] = as_array(value)

    # ------------------------------------------------------------ operators
    def _lift(self, other):
        """A scalar or array-like becomes a constant Tensor of a compatible dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, np.generic):
            if isinstance(other, bool) or (isinstance(other, numbers.Integral)):
                dtype = self.dtype
            elif self.dtype.kind == "f":
                dtype = self.dtype
            else:
                dtype = np.float32
            return Tensor._wrap(np.asarray(other, dtype=dtype))
        return Tensor(other)

    def _operands(self, other, reflected=False):
        """Both operands of a binary op; an integer operand takes the float one's dtype, as in PyTorch."""
        other = self._lift(other)
        a, b = (other, self) if reflected else (self, other)
        if a.dtype.kind != "f" and b.dtype.kind == "f":
            a = a.to(b.dtype)
        elif b.dtype.kind != "f" and a.dtype.kind == "f":
            b = b.to(a.dtype)
        return a, b

    def __add__(self, other):
        return ops.Add.apply(*self._operands(other))

    def __radd__(self, other):
        return ops.Add.apply(*self._operands(other, reflected=True))

    def __sub__(self, other):
        return ops.Sub.apply(*self._operands(other))

    def __rsub__(self, other):
        return ops.Sub.apply(*self._operands(other, reflected=True))

    def __mul__(self, other):
        return ops.Mul.apply(*self._operands(other))

    def __rmul__(self, other):
        return ops.Mul.apply(*self._operands(other, reflected=True))

    def __truediv__(self, other):
        return ops.Div.apply(*self._operands(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(*self._operands(other, reflected=True))

    def __pow__(self, exponent):
        if isinstance(exponent, numbers.Number):
            return ops.PowScalar.apply(self, exponent=exponent)
        return ops.Pow.apply(*self._operands(exponent))

    def __rpow__(self, base):
        return ops.Pow.apply(*self._operands(base, reflected=True))

    def __neg__(self):
        return ops.Neg.apply(self)

    def __matmul__(self, other):
        return matmul(*self._operands(other))

    def __rmatmul__(self, other):
        return matmul(*self._operands(other, reflected=True))

    def __getitem__(self, key):
        return ops.Index.apply(self, key=_index_key(key))

    # comparisons: element-wise, not differentiable, return bool tensors
    def _compare(self, other, fn):
        other = other.data if isinstance(other, Tensor) else other
        out = fn(self.data, other)
        if _comparison_tracers:  # the ONNX exporter records comparisons: where() conditions depend on them
            for tracer in _comparison_tracers:
                tracer(fn, self.data, other, out)
        return Tensor._wrap(out)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    # ------------------------------------------------------ element-wise math
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def relu(self):
        return ops.Relu.apply(self)

    def clip(self, min=None, max=None):
        """Clamp into [min, max]; the gradient passes where min <= x <= max, as PyTorch.
        Tensor bounds broadcast and get the gradient where they win. Shape: any -> same."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = where(out < min, min, out)
            if max is not None:
                out = where(out > max, max, out)
            return out
        return ops.Clip.apply(self, low=min, high=max)

    clamp = clip

    def pow(self, exponent):
        return self**exponent

    def softmax(self, dim):
        """exp(x) / sum(exp(x)) along `dim`. Shape: any -> same.

        The maximum along dim is subtracted first (softmax does not change under a shift),
        so logits of 1e4 stay finite.
        """
        e = self._shifted_for_softmax(wrap_dim(dim, self.ndim, "softmax")).exp()
        return e / e.sum(dim=dim, keepdim=True)

    def log_softmax(self, dim):
        """x - logsumexp(x) along `dim`, stable for large logits. Shape: any -> same."""
        shifted = self._shifted_for_softmax(wrap_dim(dim, self.ndim, "log_softmax"))
        if self.data.size == 0:
            return shifted
        return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()

    def _shifted_for_softmax(self, dim):
        """self minus its maximum along dim (a constant, so no gradient flows through it)."""
        if self.data.size == 0:
            return self * 1  # nothing to shift, and no log(0) on an empty dim
        return self - self.amax(dim=dim, keepdim=True).detach()

    def erf(self):
        return ops.Erf.apply(self)

    def masked_fill(self, mask, value):
        """`value` where `mask` (broadcast) is True, self elsewhere; no gradient reaches the filled
        places. Shape: any -> same."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: the mask must be boolean; got {mask.dtype}")
        return where(mask, value if isinstance(value, Tensor) else self._lift(value), self)

    # ------------------------------------------------------- dtypes and copies
    @property
    def device(self):
        """Always "cpu": minidl runs on NumPy."""
        return "cpu"

    def to(self, dtype=None, *, device=None):
        """Cast to `dtype` (differentiable: the gradient is cast back). "cpu" as the device is
        accepted, as PyTorch code passes it; any other device is an error."""
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
            dtype, device = None, dtype  # a device given where PyTorch takes one
        if device is not None and str(device) not in ("cpu", "cpu:0"):
            raise ValueError(f"to: minidl runs on the CPU only; got device {device!r}")
        if dtype is None or np.dtype(dtype) == self.dtype:
            return self
        if np.dtype(dtype).kind != "f" and self.requires_grad:
            return self.detach().to(dtype)  # an integer or bool result cannot carry a gradient
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def cpu(self):
        return self

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def clone(self):
        """A copy of the data that stays in the graph (the gradient passes through)."""
        return ops.Clone.apply(self)

    def repeat(self, *sizes):
        """Tile the tensor: dim i repeated sizes[i] times (extra leading sizes add dims).
        Shape: (..., n_i) -> (..., n_i * sizes_i)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: needs at least {self.ndim} sizes for shape {self.shape}; got {sizes}")
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        spaced = x.reshape(tuple(n for size in x.shape for n in (1, size)))  # (1, a, 1, b, ...)
        expanded = spaced.expand(tuple(n for pair in zip(sizes, x.shape) for n in pair))
        return expanded.reshape(tuple(r * n for r, n in zip(sizes, x.shape)))

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        axes, keep = _reduce_args(self.ndim, dim, keepdim, axis, keepdims, "sum")
        return ops.Sum.apply(self, axes=axes, keepdims=keep)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        axes, keep = _reduce_args(self.ndim, dim, keepdim, axis, keepdims, "mean")
        return ops.Mean.apply(self, axes=axes, keepdims=keep)

    def max(self, dim=None, keepdim=False):
        """The largest value; with `dim`, the named tuple (values, indices) along it, as PyTorch.

        Shape: any -> () without dim; (..., n, ...) -> values and indices (..., ...) with dim.
        With dim the gradient goes to the element `indices` picks (the first maximum).
        """
        return _extremum(self, dim, keepdim, ops.Max, np.argmax, "max")

    def min(self, dim=None, keepdim=False):
        """The smallest value; with `dim`, the named tuple (values, indices). Shape: as `max`."""
        return _extremum(self, dim, keepdim, ops.Min, np.argmin, "min")

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Largest values over `dim` (an int or a tuple); ties share the gradient equally, as `torch.amax`.
        Shape: (..., n, ...) -> (..., ...), or with 1 for each reduced dim when keepdim."""
        axes, keep = _reduce_args(self.ndim, dim, keepdim, axis, keepdims, "amax")
        return ops.Max.apply(self, axes=axes, keepdims=keep)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Smallest values over `dim`; ties share the gradient equally. Shape: as `amax`."""
        axes, keep = _reduce_args(self.ndim, dim, keepdim, axis, keepdims, "amin")
        return ops.Min.apply(self, axes=axes, keepdims=keep)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None):
        """Variance with Bessel's correction by default (`correction=1`, as PyTorch)."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axes, keep = _reduce_args(self.ndim, dim, keepdim, axis, keepdims, "var")
        n = math.prod(self.shape[a] for a in axes) if axes else 1
        centered = self - self.mean(dim=axes, keepdim=True)
        return (centered * centered).sum(dim=axes, keepdim=keep) / max(n - correction, 0)

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        """Square root of `var`; where it is 0 the gradient is 0 (not 0 * inf), as PyTorch."""
        v = self.var(dim, keepdim, correction=correction, unbiased=unbiased)
        positive = v.data > 0
        if positive.all():
            return v.sqrt()
        return where(positive, where(positive, v, 1.0).sqrt(), v * 0)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (not differentiable)."""
        return _argreduce(self, np.argmax, dim, keepdim, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return _argreduce(self, np.argmin, dim, keepdim, "argmin")

    # -------------------------------------------------------------- movement
    def reshape(self, *shape):
        shape = _shape_args(shape)
        return ops.Reshape.apply(self, shape=_resolve_shape(self.shape, shape, "reshape"))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims start_dim..end_dim into one. Shape: (..., a, ..., b, ...) -> (..., a*...*b, ...)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = wrap_dim(start_dim, self.ndim, "flatten"), wrap_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {self.shape})")
        shape = self.shape[:start] + (math.prod(self.shape[start : end + 1]),) + self.shape[end + 1 :]
        return self.reshape(shape)

    def permute(self, *dims):
        dims = tuple(wrap_dim(d, self.ndim, "permute") for d in _shape_args(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {self.ndim} dims of shape {self.shape}")
        return ops.Permute.apply(self, dims=dims)

    def unbind(self, dim=0):
        """The slices along `dim` as a tuple of tensors (views). Shape: (..., n, ...) -> n x (..., ...)."""
        if self.ndim == 0:
            raise ValueError("unbind: a scalar tensor has no dim to split")
        return ops.Unbind.apply(self, dim=wrap_dim(dim, self.ndim, "unbind"))

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dims. Shape: (..., a, ..., b, ...) -> (..., b, ..., a, ...)."""
        dim0, dim1 = wrap_dim(dim0, self.ndim, "transpose"), wrap_dim(dim1, self.ndim, "transpose")
        if self.ndim == 0:
            return self
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def unsqueeze(self, dim):
        """Insert a dim of size 1 at `dim`. Shape: (...) -> (..., 1, ...)."""
        dim = wrap_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        """Drop dims of size 1 (all, or those in `dim`). Shape: (..., 1, ...) -> (..., ...)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {wrap_dim(d, self.ndim, "squeeze") for d in ((dim,) if isinstance(dim, (int, np.integer)) else dim)}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def expand(self, *shape):
        """Broadcast to `shape` without copying (-1 keeps a dimension)."""
        shape = _shape_args(shape)
        lead = len(shape) - self.ndim
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return ops.Expand.apply(self, shape=full)


def _shape_args(args):
    """Accept both f(2, 3) and f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _resolve_shape(old, new, op):
    size = math.prod(old)  # Python ints: a shape's product is exact, and quick to take
    if new.count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be -1; got {new}")
    known = math.prod(int(n) for n in new if n != -1)
    if -1 in new:
        if known == 0 or size % known:
            raise ValueError(f"{op}: cannot reshape tensor of shape {old} ({size} elements) into {new}")
        new = tuple(size // known if n == -1 else n for n in new)
    elif known != size:
        raise ValueError(f"{op}: cannot reshape tensor of shape {old} ({size} elements) into {new}")
    return tuple(int(n) for n in new)


def wrap_dim(dim, ndim, op):
    """`dim` as an index in [0, ndim), with PyTorch's rules: negative counts from the end,
    and a 0-d tensor takes 0 and -1. Raises IndexError naming `op` otherwise."""
    size = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int; got {dim!r}")
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims (expected {-size} to {size - 1})")
    return int(dim) % size


def _reduce_args(ndim, dim, keepdim, axis, keepdims, op="reduce"):
    """Normalise PyTorch-style (dim, keepdim) and NumPy-style (axis, keepdims) to a tuple of axes."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is None:
        axes = tuple(range(ndim))
    elif isinstance(dim, (tuple, list)):
        axes = tuple(sorted({wrap_dim(d, ndim, op) for d in dim})) if ndim else ()
    else:
        axes = (wrap_dim(dim, ndim, op),) if ndim else ()
    return axes, bool(keepdim)


def _argreduce(t, fn, dim, keepdim, op="argmax"):
    if t.data.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {t.shape}")
    if dim is None:
        out = np.asarray(fn(t.data), dtype=np.int64)
        return Tensor._wrap(out.reshape((1,) * t.ndim) if keepdim else out)
    dim = wrap_dim(dim, t.ndim, op)
    if t.ndim == 0:
        return Tensor._wrap(np.zeros((), dtype=np.int64))
    out = fn(t.data, axis=dim)
    if keepdim:
        out = np.expand_dims(out, dim)
    return Tensor._wrap(np.asarray(out, dtype=np.int64))


class ValuesIndices(tuple):
    """(values, indices), as `torch.return_types.max`: unpacks as a pair, or use the names."""

    __slots__ = ()

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self):
        return f"(values={self[0]!r}, indices={self[1]!r})"


def _extremum(t, dim, keepdim, primitive, arg_fn, op):
    """max/min: the value over all elements, or (values, indices) along one dim."""
    if dim is None:
        return primitive.apply(t, axes=tuple(range(t.ndim)), keepdims=False)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be an int (for several dims use amax/amin); got {dim}")
    indices = _argreduce(t, arg_fn, dim, True, op)
    axis = wrap_dim(dim, t.ndim, op)
    values = ops.TakeAlong.apply(t, indices=indices.data, axis=axis) if t.ndim else t * 1
    if not keepdim and t.ndim:
        values, indices = values.squeeze(axis), Tensor._wrap(np.squeeze(indices.data, axis))
    return ValuesIndices(values, indices)


def _index_key(key):
    """Tensors inside an index become ndarrays (advanced indexing)."""
    if isinstance(key, Tensor):
        return key.data
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return key


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted and the extra dim removed.

    Shape: (..., n, k) @ (..., k, m) -> (..., n, m); batch dims broadcast.
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim; got shapes {a.shape} and {b.shape}")
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not match "
            f"(inner dims {a2.shape[-1]} and {b2.shape[-2]})"
        )
    out = ops.MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


# ------------------------------------------------------------------ creation
def tensor(data, dtype=None, requires_grad=False) -> Tensor:
    """A new Tensor holding a copy of `data`.

    float32 by default for Python floats, int64 for Python ints; an ndarray
    keeps its dtype (a float64 array stays float64).
    """
    return Tensor(as_array(data, dtype, copy=True), requires_grad=requires_grad)


def _filled(shape, fill, dtype, requires_grad):
    shape = _shape_args(shape)
    return Tensor(np.full(shape, fill, dtype=np.dtype(dtype or np.float32)), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    return _filled(shape, 0, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    return _filled(shape, 1, dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return _filled((shape,) if isinstance(shape, int) else (tuple(shape),), fill_value, dtype, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Like `torch.arange`: int64 for integer arguments, float32 otherwise."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, stop, step))
        dtype = np.int64 if ints else np.float32
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples from minidl's generator (seed with `md.manual_seed`)."""
    from .random import generator

    data = generator().standard_normal(_shape_args(shape)).astype(dtype or np.float32)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from minidl's generator."""
    from .random import generator

    data = generator().random(_shape_args(shape)).astype(dtype or np.float32)
    return Tensor(data, requires_grad=requires_grad)


def cat(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dim. Shape: (..., n_i, ...) -> (..., sum n_i, ...)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    axis = dim % first.ndim
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, first.shape)) if k != axis):
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, which does not fit {first.shape} along dim {dim}")
    return ops.Cat.apply(*tensors, axis=axis)


def stack(tensors, dim=0) -> Tensor:
    """Join same-shape tensors along a new dim. Shape: k x (...) -> (..., k, ...)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {tensors[0].shape}")
    axis = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(axis) for t in tensors], dim=axis)


def where(condition, a, b) -> Tensor:
    """Element-wise `a` where `condition` else `b`; broadcasts all three."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("where: at least one of a and b must be a Tensor")
    a = a if isinstance(a, Tensor) else b._lift(a)
    b = b if isinstance(b, Tensor) else a._lift(b)
    return ops.Where.apply(a, b, condition=cond)


from . import ops  # noqa: E402  (the primitives need Tensor defined first)
