"""DataLoader, collation, tokenizers and the data-set loaders."""
import os

import numpy as np
import pytest

from minidl import data


def test_dataloader_batches_and_drop_last():
    ds = data.TensorDataset(np.arange(10), np.arange(10) * 2)
    batches = list(data.DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][1].numpy(), [0, 2, 4, 6])
    assert len(data.DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [b[0].shape[0] for b in data.DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]


def test_shuffling_is_seeded_and_changes_every_epoch():
    ds = data.TensorDataset(np.arange(20))
    order = lambda loader: np.concatenate([b[0].numpy() for b in loader])  # noqa: E731
    a, b = data.DataLoader(ds, 5, shuffle=True, seed=3), data.DataLoader(ds, 5, shuffle=True, seed=3)
    first = order(a)
    np.testing.assert_array_equal(first, order(b))
    assert sorted(first.tolist()) == list(range(20)) and not np.array_equal(first, np.arange(20))
    assert not np.array_equal(order(a), first)  # a new order next epoch


def test_pad_collate_returns_lengths():
    ids, lengths, labels = data.pad_collate([(np.array([5, 6, 7]), 1), (np.array([8]), 0)])
    np.testing.assert_array_equal(ids.numpy(), [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(lengths.numpy(), [3, 1])
    np.testing.assert_array_equal(labels.numpy(), [1, 0])


def test_word_tokenizer_vocabulary_and_json_round_trip(tmp_path):
    tok = data.WordTokenizer.build(["a good film", "a bad film", "a film"], min_freq=2, specials=("<s>",))
    assert tok.itos[:3] == ["<pad>", "<unk>", "<s>"] and tok.itos[3:] == ["a", "film"]
    assert tok.encode("A Film rocks") == [3, 4, 1]
    assert tok.decode([3, 4]) == "a film"
    tok.save(tmp_path / "vocab.json")
    again = data.load_tokenizer(tmp_path / "vocab.json")
    assert again.itos == tok.itos and again.encode("a film") == tok.encode("a film")
    assert len(data.WordTokenizer.build(["x y z w"], max_size=4)) == 4


def test_char_tokenizer(tmp_path):
    tok = data.CharTokenizer.build("hello")
    assert tok.decode(tok.encode("hole")) == "hole" and len(tok) == 4
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['z'\]"):
        tok.encode("z")
    tok.save(tmp_path / "chars.json")
    assert data.load_tokenizer(tmp_path / "chars.json").itos == tok.itos


def test_missing_data_names_files_folders_and_origin(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    with pytest.raises(data.DataNotFound) as err:
        data.load_fashion_mnist(download=False)
    message = str(err.value)
    assert "fashion-mnist/train-images-idx3-ubyte.gz" in message and str(tmp_path) in message and "Zalando" in message


def _no_data_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIDL_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_the_text_sets_load_from_the_package_without_any_data_folder(tmp_path, monkeypatch):
    _no_data_folders(tmp_path, monkeypatch)
    assert data.is_bundled("rt-polarity") and data.is_bundled("tinyshakespeare")
    assert not data.is_bundled("fashion-mnist")
    train_texts, train_y, test_texts, test_y = data.load_rt_polarity()
    assert len(train_texts) + len(test_texts) == 10662 and len(test_texts) == 1066
    train_text, val_text = data.load_tiny_shakespeare()
    assert len(train_text) + len(val_text) == 1_115_394


def test_the_bundled_copies_equal_the_real_files(real_data, tmp_path, monkeypatch):
    from_folder = data.load_rt_polarity(), data.load_tiny_shakespeare()
    _no_data_folders(tmp_path, monkeypatch)
    from_package = data.load_rt_polarity(), data.load_tiny_shakespeare()
    (a_train, a_y, a_test, a_ty), a_text = from_folder
    (b_train, b_y, b_test, b_ty), b_text = from_package
    assert a_train == b_train and a_test == b_test and a_text == b_text
    np.testing.assert_array_equal(a_y, b_y)


def test_a_damaged_bundled_copy_is_refused(tmp_path, monkeypatch):
    import gzip

    _no_data_folders(tmp_path, monkeypatch)
    damaged = tmp_path / "bundled" / "tinyshakespeare"
    damaged.mkdir(parents=True)
    with gzip.open(damaged / "input.txt.gz", "wb") as f:
        f.write(b"not Shakespeare")
    monkeypatch.setattr(data.sources, "BUNDLED", str(tmp_path / "bundled"))
    with pytest.raises(data.DataError, match="copy inside the package is damaged"):
        data.load_tiny_shakespeare()


def test_the_cache_folder_follows_minidl_data_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "data"))
    assert data.sources.cache_folder() == str(tmp_path / "data")
    monkeypatch.delenv("MINIDL_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.sources.cache_folder() == str(tmp_path / "xdg" / "minidl")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.sources.cache_folder() == str(tmp_path / "home" / ".cache" / "minidl")


def test_corrupt_data_is_detected(real_data, tmp_path, monkeypatch):
    source = data.locate("tinyshakespeare")
    target = tmp_path / "tinyshakespeare"
    target.mkdir()
    text = open(os.path.join(source, "input.txt"), "rb").read()
    (target / "input.txt").write_bytes(text[:-1] + b"?")
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path))
    with pytest.raises(data.DataError, match=r"corrupt file\(s\) \['tinyshakespeare/input.txt'\]"):
        data.load_tiny_shakespeare()


def test_real_loaders_give_the_documented_splits(real_data):
    train_texts, train_y, test_texts, test_y = data.load_rt_polarity()
    assert len(train_texts) + len(test_texts) == 10662 and len(test_texts) == 1066
    assert set(train_y.tolist()) == {0, 1} and abs(train_y.mean() - 0.5) < 0.02
    assert data.load_rt_polarity()[2] == test_texts  # the split is fixed
    train_text, val_text = data.load_tiny_shakespeare()
    assert len(train_text) + len(val_text) == 1_115_394 and len(set(train_text + val_text)) == 65
    x, y, tx, ty = data.load_fashion_mnist()
    assert x.shape == (60000, 28, 28) and tx.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert sorted(set(y.tolist())) == list(range(10))
