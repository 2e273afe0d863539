"""Primitives (`Function` subclasses) by family. Users call them through Tensor methods and `F`."""
from .elementwise import Abs, Add, Cast, Clip, Div, Erf, Exp, Log, Mul, Neg, Pow, PowScalar, Relu, Sigmoid, Sqrt, Sub, Tanh, Where
from .matmul import MatMul
from .movement import Cat, EmbeddingLookup, Expand, Index, Permute, Reshape
from .reduce import Max, Mean, Min, Sum

__all__ = [
    "Abs", "Add", "Cast", "Cat", "Clip", "Div", "EmbeddingLookup", "Erf", "Exp", "Expand", "Index", "Log", "MatMul", "Max", "Mean",
    "Min", "Mul", "Neg", "Permute", "Pow", "PowScalar", "Relu", "Reshape", "Sigmoid", "Sqrt", "Sub", "Sum",
    "Tanh", "Where",
]
