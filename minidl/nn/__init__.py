"""Layers and models: `from minidl import nn`."""
import sys

from .. import functional
from . import init, utils
from .activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .embedding import Embedding, PositionalEmbedding
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .rnn import GRU, LSTM, RNN, LSTMCell
from .transformer import TransformerEncoder, TransformerEncoderLayer

# `import minidl.nn.functional as F`, as PyTorch users type it: the same module as minidl.functional
sys.modules[__name__ + ".functional"] = functional

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose2d",
    "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU", "Embedding", "Flatten", "GELU", "GRU", "Identity", "LSTM", "LSTMCell", "LayerNorm",
    "LeakyReLU", "Linear", "MSELoss", "MaxPool1d", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiheadAttention",
    "NLLLoss", "Parameter", "PositionalEmbedding", "RNN", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "TransformerEncoder", "TransformerEncoderLayer", "functional", "init", "utils",
]
