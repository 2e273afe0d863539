"""Data: datasets, the DataLoader, tokenizers and the real data sets (`minidl.data`)."""
from .dataset import DataLoader, Dataset, TensorDataset, default_collate, pad_collate
from .sources import (DataError, DataNotFound, is_bundled, list_datasets, load_fashion_mnist, load_rt_polarity,
                      load_tiny_shakespeare, locate, search_folders)
from .text import CharTokenizer, WordTokenizer, load_tokenizer

__all__ = [
    "CharTokenizer", "DataError", "DataNotFound", "DataLoader", "Dataset", "TensorDataset", "WordTokenizer", "default_collate", "is_bundled", "list_datasets",
    "load_fashion_mnist", "load_rt_polarity", "load_tiny_shakespeare", "load_tokenizer", "locate", "pad_collate",
    "search_folders",
]
