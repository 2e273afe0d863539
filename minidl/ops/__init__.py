"""Primitives (`Function` subclasses) by family. Users call them through Tensor methods and `F`."""
from .elementwise import Abs, Add, Cast, Clip, Div, Erf, Exp, GeluTanh, Log, Mul, Neg, Pow, PowScalar, Relu, Sigmoid, Sqrt, Sub, Tanh, Where
from .attention import ScaledDotProductAttention
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d
from .loss import CrossEntropy
from .linear import Linear
from .matmul import MatMul
from .movement import Cat, Clone, EmbeddingLookup, Expand, Index, Pad, Permute, Reshape, TakeAlong, Unbind
from .normalization import BatchNorm, LayerNorm
from .pool import AvgPool2d, MaxPool2d
from .reduce import Max, Mean, Min, Sum
from .rnn import ElmanRecurrence, GRURecurrence, LSTMRecurrence

__all__ = [
    "Abs", "Add", "AvgPool2d", "BatchNorm", "Cast", "Cat", "Clone", "Conv2d", "ConvTranspose2d", "Clip", "CrossEntropy", "Div", "ElmanRecurrence", "EmbeddingLookup", "Erf", "Exp", "Expand", "GeluTanh", "GRURecurrence", "Index", "LayerNorm", "Linear", "LSTMRecurrence", "Log", "MatMul", "Max", "MaxPool2d", "Mean",
    "Min", "Mul", "Neg", "Pad", "Permute", "Pow", "PowScalar", "Relu", "Reshape", "ScaledDotProductAttention", "Sigmoid", "Sqrt", "Sub", "Sum",
    "TakeAlong", "Tanh", "Unbind", "Where",
]
