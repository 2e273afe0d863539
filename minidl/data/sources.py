"""The real data sets: where they are, their checksums, and how to read them.

Files are looked for in $MINIDL_DATA, then the cache folder ($XDG_CACHE_HOME/minidl or
~/.cache/minidl), in the layout <data set>/<file>. The two small text sets also ship
inside the package, compressed (minidl/data/bundled/, with their licence notes), so the
text tasks run on a fresh machine with no data folder. Every file's SHA-256 is checked
before use; a missing or corrupt file stops with an error that names the files, the
folders searched and where the data set comes from.
"""
import gzip
import hashlib
import os

import numpy as np

SHA256 = {
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    "fashion-mnist/train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "rt-polarity/rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
    "rt-polarity/rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}

ORIGIN = {
    "rt-polarity": "Pang & Lee's sentence polarity data set v1.0 (Cornell movie-review data page, rt-polaritydata.tar.gz)",
    "tinyshakespeare": "Tiny Shakespeare, input.txt of Karpathy's char-rnn repository (data/tinyshakespeare)",
    "fashion-mnist": "Fashion-MNIST by Zalando Research (the fashion-mnist repository, data/fashion, the four .gz files)",
}

LICENSE = {
    "rt-polarity": "research release of Pang & Lee (2005); cite it",
    "tinyshakespeare": "public domain text",
    "fashion-mnist": "MIT (Zalando SE)",
}

BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled")

_verified = set()


class DataError(FileNotFoundError):
    pass


class DataNotFound(DataError):
    """No searched folder has the data set (as opposed to one that has it damaged)."""


def _user_cache():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "minidl")


def cache_folder():
    """Where downloaded data sets go: $MINIDL_DATA, else $XDG_CACHE_HOME/minidl, else ~/.cache/minidl."""
    if os.environ.get("MINIDL_DATA"):
        return os.path.abspath(os.environ["MINIDL_DATA"])
    return _user_cache()


def search_folders():
    folders = [cache_folder()]
    if os.environ.get("MINIDL_DATA"):  # a data folder that lacks a set still lets the cache serve it
        folders.append(_user_cache())
    return folders


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(dataset):
    return sorted(n for n in SHA256 if n.startswith(dataset + "/"))


def locate(dataset):
    """The folder (in search_folders()) holding every file of `dataset`, checksums verified."""
    names = _files(dataset)
    folders = search_folders()
    for folder in folders:
        paths = [os.path.join(folder, n) for n in names]
        if not all(os.path.isfile(p) for p in paths):
            continue
        bad = [n for n, p in zip(names, paths) if p not in _verified and _sha256(p) != SHA256[n]]
        if bad:
            raise DataError(
                f"{dataset}: corrupt file(s) {bad} in {folder} (SHA-256 does not match). "
                f"Get a fresh copy of {ORIGIN[dataset]}."
            )
        _verified.update(paths)
        return os.path.join(folder, dataset)
    raise DataNotFound(
        f"{dataset}: files {names} not found; searched {folders} (set MINIDL_DATA to the folder that holds "
        f"'{dataset}/'). The data set is {ORIGIN[dataset]}."
    )


def is_bundled(dataset):
    """True when the package carries `dataset` (compressed, under minidl/data/bundled/)."""
    return all(os.path.isfile(os.path.join(BUNDLED, n + ".gz")) for n in _files(dataset))


def read_bytes(dataset):
    """{file name: its bytes} for every file of `dataset`, checksums verified: from a data
    folder when one has it, else from the copy inside the package."""
    try:
        folder = locate(dataset)
    except DataNotFound:  # a damaged file in a data folder is an error, never silently replaced
        if not is_bundled(dataset):
            raise
        return _read_bundled(dataset)
    files = {}
    for name in _files(dataset):
        with open(os.path.join(folder, os.path.basename(name)), "rb") as f:
            files[os.path.basename(name)] = f.read()
    return files


def _read_bundled(dataset):
    out = {}
    for name in _files(dataset):
        with gzip.open(os.path.join(BUNDLED, name + ".gz"), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != SHA256[name]:
            raise DataError(f"{dataset}: the copy inside the package is damaged ({name}: SHA-256 does not match); "
                            "reinstall minidl, or set MINIDL_DATA to a folder with the data set")
        out[os.path.basename(name)] = data
    return out


def load_rt_polarity(test_fraction=0.1, seed=0):
    """Movie-review sentences (latin-1) with labels 1 positive / 0 negative; a fixed, seeded split.

    Returns (train_texts, train_labels, test_texts, test_labels).
    """
    files = read_bytes("rt-polarity")
    texts, labels = [], []
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        lines = [line.strip() for line in files[name].decode("latin-1").split("\n") if line.strip()]
        texts += lines
        labels += [label] * len(lines)
    order = np.random.default_rng(seed).permutation(len(texts))
    n_test = int(round(len(texts) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    labels = np.array(labels, dtype=np.int64)
    return [texts[i] for i in train], labels[train], [texts[i] for i in test], labels[test]


def load_tiny_shakespeare(val_fraction=0.1):
    """The text, split by position: (train_text, val_text)."""
    text = read_bytes("tinyshakespeare")["input.txt"].decode("ascii")
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    dims = magic & 0xFF
    if magic >> 8 != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic {magic:#x})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def locate_or_download(dataset, log=None):
    """locate(dataset); when no folder has it, download it into the cache folder first."""
    try:
        return locate(dataset)
    except DataNotFound:
        from .download import download

        download(dataset, log)
        return locate(dataset)


def list_datasets():
    """One row per data set: name, where it is (a folder, the package, or None), size in bytes, licence."""
    rows = []
    for dataset in sorted({n.split("/")[0] for n in SHA256}):
        names = _files(dataset)
        where, size = None, 0
        for folder in search_folders():
            paths = [os.path.join(folder, n) for n in names]
            if all(os.path.isfile(p) for p in paths):
                where, size = os.path.join(folder, dataset), sum(os.path.getsize(p) for p in paths)
                break
        if where is None and is_bundled(dataset):
            where = "inside the package"
            size = sum(os.path.getsize(os.path.join(BUNDLED, n + ".gz")) for n in names)
        rows.append({"name": dataset, "where": where, "size": size, "license": LICENSE[dataset]})
    return rows


def load_fashion_mnist(download=True):
    """(train_images (60000, 28, 28) uint8, train_labels, test_images (10000, 28, 28), test_labels).
    With `download`, a missing data set is downloaded into the cache folder first."""
    folder = locate_or_download("fashion-mnist") if download else locate("fashion-mnist")
    read = lambda name: _read_idx(os.path.join(folder, name))  # noqa: E731
    return (read("train-images-idx3-ubyte.gz"), read("train-labels-idx1-ubyte.gz").astype(np.int64),
            read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz").astype(np.int64))
