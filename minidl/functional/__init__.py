"""Public stateless ops: `import minidl.functional as F`.

Names and arguments follow `torch.nn.functional`; every op documents its
shapes. Most are composites of primitives (their gradients come for free);
convolution, pooling, recurrence and attention call compiled kernels.
"""
from .activation import elu, erf, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .attention import scaled_dot_product_attention
from .conv import adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d
from .conv_transpose import conv_transpose2d
from .layers import dropout, dropout2d, embedding, linear, one_hot
from .rnn import gru, lstm, lstm_cell, rnn
from .normalization import batch_norm, layer_norm
from .pad import pad
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss

__all__ = [
    "relu", "elu", "leaky_relu", "gelu", "sigmoid", "tanh", "erf", "softmax", "log_softmax", "linear",
    "dropout", "embedding", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "rnn", "lstm", "gru", "lstm_cell", "scaled_dot_product_attention", "layer_norm", "batch_norm", "nll_loss", "cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "pad", "one_hot", "conv_transpose2d", "dropout2d", "max_pool1d", "avg_pool1d",
]
