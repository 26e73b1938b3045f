"""Data with identity: :class:`IdDataset`, built-in loaders and the user's own files."""

from unlearnkit.data import regression as _regression  # noqa: F401  (registers the regression loader)
from unlearnkit.data.dataset import IdDataset, concat, ids_hash
from unlearnkit.data.loaders import (
    BUILTIN,
    LOADERS,
    DataBundle,
    LoaderInfo,
    load_builtin,
    load_digits,
    load_mnist1d,
    load_synthetic,
    load_table,
    register_loader,
    resolve_data,
    write_csv,
)

__all__ = [
    "BUILTIN",
    "LOADERS",
    "DataBundle",
    "IdDataset",
    "LoaderInfo",
    "concat",
    "ids_hash",
    "load_builtin",
    "load_digits",
    "load_mnist1d",
    "load_synthetic",
    "load_table",
    "register_loader",
    "resolve_data",
    "write_csv",
]
