"""Datasets and the DataLoader: batches of Tensors, seeded shuffling, padding for sequences."""
import numpy as np

from ..tensor import Tensor


class Dataset:
    """Anything with __len__ and __getitem__ returning one example (a tuple of arrays/numbers)."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Examples are rows of equally long arrays. Shape: each array (N, ...) -> example i = tuple of rows."""

    def __init__(self, *arrays):
        arrays = [np.asarray(getattr(a, "data", a)) for a in arrays]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"TensorDataset: arrays differ in length: {[len(a) for a in arrays]}")
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


def default_collate(examples):
    """Stack each field of the examples into one Tensor. Shape: B x (f1, f2, ...) -> (Tensor (B, ...), ...)."""
    fields = list(zip(*examples)) if isinstance(examples[0], tuple) else [examples]
    stacked = [Tensor(np.stack([np.asarray(v) for v in field])) for field in fields]
    return tuple(stacked) if isinstance(examples[0], tuple) else stacked[0]


def pad_collate(examples, pad_value=0):
    """For (token ids, label) examples of different lengths: (ids (B, T_max), lengths (B,), labels (B,)).

    Padding goes at the end; `lengths` gives each sequence's true length
    (a mask is `md.arange(T)[None] < lengths[:, None]`).
    """
    sequences, labels = zip(*examples)
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    padded = np.full((len(sequences), max(1, lengths.max())), pad_value, dtype=np.int64)
    for i, s in enumerate(sequences):
        padded[i, : len(s)] = s
    return Tensor(padded), Tensor(lengths), Tensor(np.asarray(labels))


class DataLoader:
    """Iterate over a dataset in batches.

    `shuffle=True` draws a new order every epoch from a generator seeded with
    `seed`, so the same seed gives the same batches run after run. With
    `num_workers=N`, N background threads load and collate the next batches
    (up to `prefetch_factor` each) while the model trains on this one; the batches
    and their order are the same as with `num_workers=0`. Threads, not processes:
    NumPy releases the GIL in its loops, and nothing has to be pickled.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=0, num_workers=0,
                 prefetch_factor=2):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1; got {batch_size}")
        if num_workers < 0 or prefetch_factor < 1:
            raise ValueError(f"DataLoader: num_workers must be >= 0 and prefetch_factor >= 1; got {num_workers}, {prefetch_factor}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self.generator = np.random.default_rng(seed)
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _chunks(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            chunk = order[start : start + self.batch_size]
            if self.drop_last and len(chunk) < self.batch_size:
                return
            yield chunk

    def _batch(self, chunk):
        return self.collate_fn([self.dataset[int(i)] for i in chunk])

    def __iter__(self):
        if self.num_workers == 0:
            for chunk in self._chunks():
                yield self._batch(chunk)
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.num_workers, thread_name_prefix="minidl-loader") as pool:
            pending = deque()
            chunks = self._chunks()
            try:
                for chunk in chunks:
                    pending.append(pool.submit(self._batch, chunk))
                    if len(pending) >= self.num_workers * self.prefetch_factor:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # an abandoned epoch: drop the batches not yet started
                for future in pending:
                    future.cancel()
