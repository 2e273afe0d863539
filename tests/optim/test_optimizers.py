"""Optimizers and schedulers against PyTorch's on the same parameters and gradients, 20 steps."""
import numpy as np
import pytest

import minidl as md
from minidl import nn, optim

SHAPES = [(3, 4), (4,), (2, 2, 3)]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.03, weight_decay=0.2, amsgrad=True)),
]


def _params(lib, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    if lib == "md":
        return [nn.Parameter(a) for a in arrays]
    import torch

    return [torch.nn.Parameter(torch.tensor(a)) for a in arrays]


def _gradients(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _run(torch, name, kwargs, steps, scheduler=None):
    mine, theirs = _params("md"), _params("torch")
    opt_m = getattr(optim, name)(mine, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    sched_m = sched_t = None
    if scheduler:
        kind, args = scheduler
        sched_m = getattr(optim.lr_scheduler, kind)(opt_m, **args)
        sched_t = getattr(torch.optim.lr_scheduler, kind)(opt_t, **args)
    for step in range(steps):
        for p, q, g in zip(mine, theirs, _gradients(step)):
            p.grad = md.tensor(g)
            q.grad = torch.tensor(g)
        opt_m.step()
        opt_t.step()
        if sched_m:
            sched_m.step()
            sched_t.step()
            assert opt_m.param_groups[0]["lr"] == pytest.approx(opt_t.param_groups[0]["lr"], rel=1e-12)
    return mine, theirs


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_twenty_steps_match_pytorch(name, kwargs, torch_oracle):
    mine, theirs = _run(torch_oracle, name, kwargs, 20)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scheduler", [("StepLR", dict(step_size=5, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001))])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_schedulers_match_pytorch(name, scheduler, torch_oracle):
    kwargs = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.05)
    mine, theirs = _run(torch_oracle, name, kwargs, 20, scheduler)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True))])
def test_state_dict_resumes_exactly(name, kwargs):
    def train(opt, params, start, stop):
        for step in range(start, stop):
            for p, g in zip(params, _gradients(step)):
                p.grad = md.tensor(g)
            opt.step()

    straight = _params("md")
    opt = getattr(optim, name)(straight, **kwargs)
    train(opt, straight, 0, 20)

    first = _params("md")
    opt1 = getattr(optim, name)(first, **kwargs)
    train(opt1, first, 0, 10)
    resumed = [nn.Parameter(p.numpy().copy()) for p in first]
    opt2 = getattr(optim, name)(resumed, **kwargs)
    opt2.load_state_dict(opt1.state_dict())
    train(opt2, resumed, 10, 20)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_failed_step_changes_no_parameter():
    params = _params("md")
    opt = optim.Adam(params, lr=0.1)
    before = [p.numpy().copy() for p in params]
    params[0].grad = md.ones(*SHAPES[0])
    params[1].grad = md.ones(*SHAPES[1])
    params[2].grad = md.ones(5)  # wrong shape, found after two good parameters
    with pytest.raises(ValueError, match=r"gradient of shape \(5,\) for a parameter of shape \(2, 2, 3\)"):
        opt.step()
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.numpy(), b)
    assert opt.state == {}


def test_parameter_groups_and_zero_grad():
    a, b = nn.Parameter(md.ones(2)), nn.Parameter(md.ones(2))
    opt = optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = md.ones(2), md.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0, 0])
    np.testing.assert_allclose(b.numpy(), [0.9, 0.9])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_clip_grad_norm_matches_pytorch(torch_oracle):
    mine, theirs = _params("md"), _params("torch")
    for p, q, g in zip(mine, theirs, _gradients(0)):
        p.grad, q.grad = md.tensor(3 * g), torch_oracle.tensor(3 * g)
    total = nn.utils.clip_grad_norm_(mine, 1.5)
    expected = torch_oracle.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_invalid_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(_params("md"), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


# --------------------------------------------- RMSprop and the newer schedules
@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"centered": True, "weight_decay": 0.1},
                                    {"momentum": 0.5, "centered": True, "alpha": 0.9, "maximize": True}])
def test_rmsprop_follows_pytorch(torch_oracle, kwargs):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4))
    ours, theirs = md.tensor(start.copy(), requires_grad=True), torch_oracle.tensor(start.copy(), requires_grad=True)
    opt, topt = md.optim.RMSprop([ours], lr=0.01, **kwargs), torch_oracle.optim.RMSprop([theirs], lr=0.01, **kwargs)
    for _ in range(5):
        grad = rng.standard_normal((3, 4))
        ours.grad, theirs.grad = md.tensor(grad), torch_oracle.tensor(grad)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert set(opt.state_dict()["state"][0]) == set(topt.state_dict()["state"][0])


def _rates(torch, make_ours, make_theirs, steps, optimizer="SGD", metrics=None):
    p, tp = md.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    kwargs = {"lr": 0.1, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.1}
    opt, topt = getattr(md.optim, optimizer)([p], **kwargs), getattr(torch.optim, optimizer)([tp], **kwargs)
    ours, theirs = make_ours(md.optim.lr_scheduler, opt), make_theirs(torch.optim.lr_scheduler, topt)
    seen = []
    for i in range(steps):
        opt.step()
        topt.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[i])
            theirs.step(metrics[i])
        group, tgroup = opt.param_groups[0], topt.param_groups[0]
        seen.append((group["lr"], tgroup["lr"]))
        key = "betas" if optimizer == "Adam" else "momentum"
        assert np.allclose(np.ravel(group[key]), np.ravel(tgroup[key])), key
    ours_lr, theirs_lr = zip(*seen)
    np.testing.assert_allclose(ours_lr, theirs_lr, rtol=1e-12)


def test_lambda_lr_follows_pytorch(torch_oracle):
    make = lambda sched, opt: sched.LambdaLR(opt, lambda epoch: 0.5 ** epoch + 0.01 * epoch)  # noqa: E731
    _rates(torch_oracle, make, make, 8)


@pytest.mark.parametrize("kwargs", [{}, {"anneal_strategy": "linear", "pct_start": 0.4}, {"three_phase": True}])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_lr_follows_pytorch(torch_oracle, kwargs, optimizer):
    make = lambda sched, opt: sched.OneCycleLR(opt, max_lr=1.0, total_steps=20, **kwargs)  # noqa: E731
    _rates(torch_oracle, make, make, 19, optimizer)


@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "threshold_mode": "abs", "cooldown": 2, "min_lr": 0.02}])
def test_reduce_lr_on_plateau_follows_pytorch(torch_oracle, kwargs):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.9, 0.9, 0.9, 0.9]
    make = lambda sched, opt: sched.ReduceLROnPlateau(opt, patience=2, factor=0.5, **kwargs)  # noqa: E731
    _rates(torch_oracle, make, make, len(metrics), metrics=metrics)
