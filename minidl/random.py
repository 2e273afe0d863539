"""minidl's random number generator: one NumPy Generator, seeded by `manual_seed`."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random draw in minidl (randn, rand, dropout, init, shuffling)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    return _generator
