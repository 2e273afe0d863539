"""Benchmark workloads: the same work in minidl and in PyTorch, built from the same data.

Used by `benchmarks/` (pytest-benchmark) and by `minidl bench`. PyTorch is only
the baseline here: it is imported when a torch workload is built, never by
`import minidl`.

Each workload builds a `step()` per framework; a step runs forward and
backward once and returns the output and gradients as ndarrays, so the two
frameworks can also be checked against each other.
"""
import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import functional as F
from .tensor import Tensor


@dataclass
class Workload:
    id: str
    title: str
    goal: float  # target for minidl time / PyTorch time
    build: Callable  # build(framework) -> step; framework is "minidl" or "torch"
    memory_goal: float | None = None  # target for minidl's peak memory / PyTorch's, where there is one


def _data(seed, *shapes, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes]


def _leaves(framework, arrays):
    if framework == "minidl":
        return [Tensor(a.copy(), requires_grad=True) for a in arrays]
    import torch

    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _step(framework, leaves, forward):
    """Clear grads, run forward, backpropagate sum(out); return out and the leaves' gradients."""

    def step():
        for t in leaves:
            t.grad = None
        out = forward(*leaves)
        out.sum().backward()
        return [_np(out)] + [_np(t.grad) for t in leaves]

    return step


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") and not isinstance(t, Tensor) else np.asarray(t)


def _torch_f():
    import torch

    return torch.nn.functional


def _conv_layer(batch, cin, size, cout, stride=1, seed=1):
    """A 3x3 convolution (padding 1) fwd+bwd with bias, batch x cin x size x size -> cout."""

    def build(framework):
        leaves = _leaves(framework, _data(seed, (batch, cin, size, size), (cout, cin, 3, 3), (cout,), scale=0.2))
        conv = F.conv2d if framework == "minidl" else _torch_f().conv2d
        return _step(framework, leaves, lambda x, w, b: conv(x, w, b, stride=stride, padding=1))

    return build


_conv = _conv_layer(32, 16, 32, 32)


def _max_pool(framework):
    leaves = _leaves(framework, _data(2, (32, 32, 32, 32)))
    pool = F.max_pool2d if framework == "minidl" else _torch_f().max_pool2d
    return _step(framework, leaves, lambda x: pool(x, 2))


def _recurrent(kind):
    def build(framework):
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
        steps, batch, inputs, hidden = 50, 32, 64, 128
        arrays = _data(3, (steps, batch, inputs), (gates * hidden, inputs), (gates * hidden, hidden),
                       (gates * hidden,), (gates * hidden,), scale=0.1)
        leaves = _leaves(framework, arrays)
        if framework == "minidl":
            run = {"rnn": F.rnn, "lstm": F.lstm, "gru": F.gru}[kind]
            return _step(framework, leaves, lambda x, *w: run(x, None, *w)[0])
        import torch

        module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](inputs, hidden)
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        return _step(
            framework, leaves,
            lambda x, *w: torch.func.functional_call(module, dict(zip(names, w)), (x,))[0],
        )

    return build


def _attention(framework):
    leaves = _leaves(framework, _data(4, *[(16, 4, 64, 16)] * 3))
    sdpa = F.scaled_dot_product_attention if framework == "minidl" else _torch_f().scaled_dot_product_attention
    return _step(framework, leaves, lambda q, k, v: sdpa(q, k, v, is_causal=True))


KERNEL_WORKLOADS = [
    Workload("B1", "conv2d fwd+bwd, x 32x16x32x32, 32 filters 3x3, padding 1", 1.0, _conv),
    Workload("B2", "max_pool2d 2x2 fwd+bwd, x 32x32x32x32", 0.25, _max_pool),
    Workload("B3", "RNN tanh fwd+bwd, batch 32, length 50, 64 -> 128", 0.3, _recurrent("rnn")),
    Workload("B4", "LSTM fwd+bwd, batch 32, length 50, 64 -> 128", 0.8, _recurrent("lstm")),
    Workload("B4g", "GRU fwd+bwd, batch 32, length 50, 64 -> 128", 0.4, _recurrent("gru")),
    Workload("B5", "causal attention fwd+bwd, 16x4x64x16", 1.0, _attention),
    # ResNet-18's 3x3 layer shapes (CIFAR sizes, batch 32)
    Workload("C1", "conv2d fwd+bwd, x 32x64x32x32, 64 filters 3x3, padding 1", 1.0, _conv_layer(32, 64, 32, 64, seed=11)),
    Workload("C2", "conv2d fwd+bwd, x 32x128x16x16, 128 filters 3x3, padding 1", 1.0, _conv_layer(32, 128, 16, 128, seed=12)),
    Workload("C3", "conv2d fwd+bwd, x 32x256x8x8, 256 filters 3x3, padding 1", 1.0, _conv_layer(32, 256, 8, 256, seed=13)),
    Workload("C4", "conv2d fwd+bwd, x 32x512x4x4, 512 filters 3x3, padding 1", 1.0, _conv_layer(32, 512, 4, 512, seed=14)),
    Workload("C5", "conv2d fwd+bwd, x 32x128x16x16, 256 filters 3x3, stride 2, padding 1", 1.0,
             _conv_layer(32, 128, 16, 256, stride=2, seed=15)),
]


def time_step(step, min_time=0.5, min_rounds=5, max_rounds=200):
    """Median seconds of step() after two warm-up calls."""
    step()
    step()
    times = []
    start = time.perf_counter()
    while len(times) < min_rounds or (time.perf_counter() - start < min_time and len(times) < max_rounds):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def use_all_cores(torch):
    """Give PyTorch as many threads as NumPy's BLAS uses, but only when its default differs:
    torch.set_num_threads, even with the current count, rebuilds its pool in a slower state."""
    if torch.get_num_threads() != os.cpu_count():
        torch.set_num_threads(os.cpu_count())


# ------------------------------------------------------------- training steps
def _torch_twin(mine, make_theirs):
    """The PyTorch model built by make_theirs(torch), with minidl's weights."""
    import torch

    theirs = make_theirs(torch)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.state_dict().items()})
    return theirs


def _training_step(framework, mine, make_theirs, make_optimizer, inputs, targets, loss_fn):
    """One step: zero_grad, forward, loss, backward, optimizer step; returns the loss and the parameters."""
    if framework == "minidl":
        model, x, y = mine, Tensor(inputs), targets
        optimizer = make_optimizer(__import__("minidl").optim, model.parameters())
    else:
        import torch

        model, x, y = _torch_twin(mine, make_theirs), torch.tensor(inputs), torch.tensor(targets)
        optimizer = make_optimizer(torch.optim, model.parameters())

    def step():
        optimizer.zero_grad()
        loss = loss_fn(framework, model(x), y)
        loss.backward()
        optimizer.step()
        return [_np(loss)] + [_np(p) for p in model.parameters()]

    return step


def _cross_entropy(framework, logits, targets):
    if framework == "minidl":
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return _torch_f().cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _recurrent_lm_step(cell, vocab, embed, hidden, batch, length, seed):
    """A training step of embedding -> `cell` ("RNN" or "LSTM") -> linear to the vocabulary, Adam."""

    def layers(lib):
        return lib.Embedding(vocab, embed), getattr(lib, cell)(embed, hidden, batch_first=True), lib.Linear(hidden, vocab)

    def build(framework):
        from . import nn
        from .random import manual_seed

        class LM(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding, self.rnn, self.output = layers(nn)

            def forward(self, ids):
                return self.output(self.rnn(self.embedding(ids))[0])

        def make_theirs(torch):
            class TorchLM(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embedding, self.rnn, self.output = layers(torch.nn)

                def forward(self, ids):
                    return self.output(self.rnn(self.embedding(ids))[0])

            return TorchLM()

        manual_seed(0)
        rng = np.random.default_rng(seed)
        ids, targets = rng.integers(0, vocab, (batch, length)), rng.integers(0, vocab, (batch, length))
        return _training_step(framework, LM(), make_theirs, lambda o, p: o.Adam(p, lr=1e-3), ids, targets, _cross_entropy)

    return build


def _charlm_step(framework):
    from .models import CharTransformer
    from .random import manual_seed

    def make_theirs(torch):
        class Position(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(64, 64))

        class TorchCharTransformer(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding, self.position = torch.nn.Embedding(65, 64), Position()
                gelu = lambda x: torch.nn.functional.gelu(x, approximate="tanh")  # noqa: E731
                self.layers = torch.nn.ModuleList(
                    torch.nn.TransformerEncoderLayer(64, 4, 256, 0.0, activation=gelu, batch_first=True, norm_first=True)
                    for _ in range(2)
                )
                self.norm, self.head = torch.nn.LayerNorm(64), torch.nn.Linear(64, 65)

            def forward(self, ids):
                x = self.embedding(ids) + self.position.weight[: ids.shape[1]]
                mask = torch.nn.Transformer.generate_square_subsequent_mask(ids.shape[1])
                for layer in self.layers:
                    x = layer(x, src_mask=mask, is_causal=True)
                return self.head(self.norm(x))

        return TorchCharTransformer()

    manual_seed(0)
    mine = CharTransformer(65, d_model=64, n_layers=2, n_heads=4, context=64)
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 65, (32, 65))
    return _training_step(framework, mine, make_theirs, lambda o, p: o.Adam(p, lr=1e-3), ids[:, :-1], ids[:, 1:], _cross_entropy)


def _small_cnn_step(framework):
    from . import nn
    from .random import manual_seed

    def layers(lib):
        return [lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2), lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(),
                lib.MaxPool2d(2), lib.Flatten(), lib.Linear(128, 10)]

    manual_seed(0)
    mine = nn.Sequential(*layers(nn))
    rng = np.random.default_rng(7)
    images, labels = rng.standard_normal((64, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 64)
    loss = lambda fw, logits, y: (F.cross_entropy if fw == "minidl" else _torch_f().cross_entropy)(logits, y)  # noqa: E731
    return _training_step(framework, mine, lambda torch: torch.nn.Sequential(*layers(torch.nn)),
                          lambda o, p: o.SGD(p, lr=0.05, momentum=0.9), images, labels, loss)


def _resnet18_step(framework):
    """A ResNet-18 (CIFAR stem) training step, batch 32 of 3x32x32, SGD with momentum."""
    from .models import resnet18_cifar
    from .random import manual_seed

    def make_theirs(torch):
        nn = torch.nn

        class BasicBlock(nn.Module):  # minidl.models.vision.BasicBlock, with the same names
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
                self.relu = nn.ReLU()
                self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
                self.downsample = None
                if stride != 1 or cin != cout:
                    self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

            def forward(self, x):
                skip = x if self.downsample is None else self.downsample(x)
                return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + skip)

        class ResNet18(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.bn1, self.relu = nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()
                cin = 64
                for i, width in enumerate((64, 128, 256, 512), start=1):
                    setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, width, 1 if i == 1 else 2),
                                                             BasicBlock(width, width, 1)))
                    cin = width
                self.fc = nn.Linear(512, 10)

            def forward(self, x):
                x = self.relu(self.bn1(self.conv1(x)))
                x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
                return self.fc(x.mean((2, 3)))

        return ResNet18()

    manual_seed(0)
    rng = np.random.default_rng(9)
    images, labels = rng.standard_normal((32, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 32)
    return _training_step(framework, resnet18_cifar(), make_theirs, lambda o, p: o.SGD(p, lr=0.01, momentum=0.9),
                          images, labels, _cross_entropy)


TRAINING_WORKLOADS = [
    Workload("B6", "embedding 5000x64 + RNN tanh 128 + linear 5000, batch 32, length 30, Adam", 0.6,
             _recurrent_lm_step("RNN", 5000, 64, 128, 32, 30, seed=5)),
    Workload("R18", "ResNet-18 (CIFAR stem) on 32x3x32x32, SGD momentum", 1.0, _resnet18_step, memory_goal=1.0),
    Workload("L1", "LSTM language model: embedding 10000x256, LSTM 512, linear 10000, batch 32, length 64, Adam", 0.6,
             _recurrent_lm_step("LSTM", 10000, 256, 512, 32, 64, seed=8)),
    Workload("B7", "char transformer 2 layers, width 64, 4 heads, context 64, batch 32, Adam", 1.0, _charlm_step),
    Workload("B8", "conv 1->16, pool, conv 16->32, pool, linear 128->10 on 64x1x8x8, SGD momentum", 0.7, _small_cnn_step),
]
