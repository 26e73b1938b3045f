"""Built-in datasets (no download), the user's own CSV/Parquet files, and the loader registry.

Every loader returns a :class:`DataBundle`: the deletable ``train`` split, a ``test`` split and an
optional ``public`` split that is never deletable and may pretrain a frozen backbone.

A loader is registered in two halves (:func:`register_loader`): ``raw`` produces the rows as they come
(ids, labels, owners, unprocessed features) and ``prepare`` is *everything* the loader computes from them
(scaling, parsing a file, …). The counterfactual exactness suite (``tests/exactness``) changes or removes one
deletable raw row and runs ``prepare`` again, so a ``prepare`` that lets deletable rows shape anything
(statistics over the whole pool, a label set of max(label)+1, …) fails it. A new loader joins that suite by
registering; nothing else needs editing. Preprocessing here is fixed (digits ÷ 16, MNIST-1D by constants);
statistics are only ever fitted on the public split, by the model (:mod:`unlearnkit.data.public_fit`).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.data.dataset import IdDataset
from unlearnkit.data.tables import load_table, write_csv
from unlearnkit.errors import ConfigError, DataError


@dataclass(frozen=True)
class DataBundle:
    """Train (deletable), test and optional public (never deletable) splits of one dataset."""

    train: IdDataset
    test: IdDataset | None
    public: IdDataset | None
    name: str

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def num_features(self) -> int:
        return self.train.num_features

    def map_features(self, fn: Callable[[np.ndarray], np.ndarray]) -> DataBundle:
        """The same splits with ``fn`` applied to every split's features (a fixed, row-wise transform)."""

        def one(d: IdDataset | None) -> IdDataset | None:
            if d is None:
                return None
            x = np.asarray(fn(d.x.numpy()), dtype=np.float32)
            return dataclasses.replace(d, x=torch.as_tensor(x), _pos={})

        return DataBundle(one(self.train), one(self.test), one(self.public), self.name)  # type: ignore[arg-type]


# -- the registry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoaderInfo:
    """A registered loader: ``load(seed, **options) = prepare(raw(seed, **options))``.

    Args:
        name: registry key (and, when ``builtin``, the ``--data`` name on the command line).
        raw: ``(seed=..., **options) -> DataBundle`` of unprocessed rows.
        prepare: ``DataBundle -> DataBundle``: every computation the loader does on the rows.
        modality: what the features are (``tabular``; text/image loaders say so, and the exactness suite
            pairs them only with backbones that accept that modality).
        tiny: options that make a small dataset quickly (used by the exactness suite).
        builtin: selectable by name as ``--data NAME``.
    """

    name: str
    raw: Callable[..., DataBundle]
    prepare: Callable[[DataBundle], DataBundle]
    modality: str = "tabular"
    tiny: dict[str, Any] = field(default_factory=dict)
    builtin: bool = True

    def load(self, seed: int = 0, **options: Any) -> DataBundle:
        return self.prepare(self.raw(seed=seed, **options))


LOADERS: dict[str, LoaderInfo] = {}


def register_loader(
    name: str,
    *,
    prepare: Callable[[DataBundle], DataBundle] | None = None,
    modality: str = "tabular",
    tiny: dict[str, Any] | None = None,
    builtin: bool = True,
) -> Callable[[Callable[..., DataBundle]], Callable[..., DataBundle]]:
    """Decorator on a ``raw`` function: register a loader (see :class:`LoaderInfo`).

    ``prepare`` defaults to the identity (the raw rows are already what the model sees).
    """

    def deco(raw: Callable[..., DataBundle]) -> Callable[..., DataBundle]:
        if name in LOADERS and LOADERS[name].raw is not raw:
            raise ConfigError(f"loader {name!r} is registered twice")
        LOADERS[name] = LoaderInfo(name, raw, prepare or (lambda b: b), modality, dict(tiny or {}), builtin)
        return raw

    return deco


def builtin_names() -> tuple[str, ...]:
    return tuple(n for n, info in LOADERS.items() if info.builtin)


def _split(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    seed: int,
    test_fraction: float,
    public_fraction: float,
    num_classes: int,
    owners_per_sample: int = 4,
) -> DataBundle:
    if not 0 <= public_fraction < 1 or not 0 <= test_fraction < 1 or public_fraction + test_fraction >= 1:
        raise DataError(f"fractions out of range: public={public_fraction}, test={test_fraction}")
    n = len(x)
    perm = np.random.default_rng(seed).permutation(n)
    n_pub, n_test = round(n * public_fraction), round(n * test_fraction)
    pub, test, train = perm[:n_pub], perm[n_pub : n_pub + n_test], perm[n_pub + n_test :]
    ids = np.arange(n)  # a sample's id is its row in the generator's order: stable for a given seed
    # Synthetic data subjects: each owner holds about `owners_per_sample` samples.
    n_owners = max(1, n // owners_per_sample)
    owners = [f"user-{(i * 7919) % n_owners:04d}" for i in range(n)]

    def make(rows: np.ndarray, part: str) -> IdDataset:
        return IdDataset.create(
            x[rows],
            y[rows],
            ids[rows],
            owners=[owners[r] for r in rows],
            num_classes=num_classes,  # declared by the dataset, never inferred from its rows
            name=f"{name}/{part}",
        )

    return DataBundle(
        train=make(train, "train"),
        test=make(test, "test") if n_test else None,
        public=make(pub, "public") if n_pub else None,
        name=name,
    )


# -- built-in datasets -------------------------------------------------------------------------------
def _digits_prepare(raw: DataBundle) -> DataBundle:
    return raw.map_features(lambda x: x / np.float32(16.0))  # pixel range 0..16: a fixed constant


@register_loader("digits", prepare=_digits_prepare, tiny={})
def _digits_raw(seed: int = 0, public_fraction: float = 150 / 1797, test_fraction: float = 447 / 1797) -> DataBundle:
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    return _split(
        d.data.astype(np.float32), d.target.astype(np.int64), "digits", seed, test_fraction, public_fraction, 10
    )


def load_digits(seed: int = 0, public_fraction: float = 150 / 1797, test_fraction: float = 447 / 1797) -> DataBundle:
    """scikit-learn's bundled 8×8 digits (1797 samples, 64 features in [0, 1], 10 classes).

    The default split follows the S3T CPU reproduction: 150 public, 1200 deletable, 447 test.
    """
    return LOADERS["digits"].load(seed=seed, public_fraction=public_fraction, test_fraction=test_fraction)


# MNIST-1D's own make_dataset centres and scales by the mean/std of the whole generated pool (deletable,
# public and test rows alike), so one deletable sample moved every other sample's features. These fixed
# constants are that mean/std for the generator's default pool (seed 42, 4000 samples): independent of any
# user's split, they keep the usual scale without looking at deletable rows.
MNIST1D_MEAN = -0.005628931141808452
MNIST1D_STD = 0.1549463044380676


def _mnist1d_prepare(raw: DataBundle) -> DataBundle:
    mean, std = np.float32(MNIST1D_MEAN), np.float32(MNIST1D_STD)
    return raw.map_features(lambda x: (x - mean) / std)


@register_loader("mnist1d", prepare=_mnist1d_prepare, tiny={"num_samples": 400})
def _mnist1d_raw(
    seed: int = 0, num_samples: int = 4000, public_fraction: float = 0.08, test_fraction: float = 0.2
) -> DataBundle:
    """The generator loop of ``mnist1d.data.make_dataset`` (same random draws) without its pool standardisation."""
    from mnist1d.data import get_dataset_args, get_templates, transform
    from mnist1d.utils import set_seed

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    templates = get_templates()
    set_seed(args.seed)
    xs, ys = [], []
    for label_ix in range(len(templates["y"])):
        for _ in range(args.num_samples // len(templates["y"])):
            x, _t = transform(templates["x"][label_ix], templates["t"], args)
            xs.append(x)
            ys.append(templates["y"][label_ix])
    shuffle = np.random.permutation(len(ys))
    x_all = np.stack(xs)[shuffle].astype(np.float32)
    y_all = np.stack(ys)[shuffle].astype(np.int64)
    return _split(x_all, y_all, "mnist1d", seed, test_fraction, public_fraction, 10)


def load_mnist1d(
    seed: int = 0, num_samples: int = 4000, public_fraction: float = 0.08, test_fraction: float = 0.2
) -> DataBundle:
    """MNIST-1D (Greydanus, 2020): 40-feature procedurally generated sequences, 10 classes, no download.

    Scaled by fixed constants (:data:`MNIST1D_MEAN`, :data:`MNIST1D_STD`), not by statistics of the pool.
    """
    return LOADERS["mnist1d"].load(
        seed=seed, num_samples=num_samples, public_fraction=public_fraction, test_fraction=test_fraction
    )


@register_loader("synthetic", tiny={"num_samples": 400, "num_features": 16})
def _synthetic_raw(
    seed: int = 0,
    num_samples: int = 1500,
    num_features: int = 32,
    num_classes: int = 6,
    public_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> DataBundle:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=num_samples,
        n_features=num_features,
        n_informative=min(num_features, 16),
        n_redundant=0,
        n_classes=num_classes,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    return _split(
        x.astype(np.float32), y.astype(np.int64), "synthetic", seed, test_fraction, public_fraction, num_classes
    )


def load_synthetic(seed: int = 0, **options: Any) -> DataBundle:
    """A Gaussian-cluster classification task (scikit-learn ``make_classification``).

    Options (defaults): ``num_samples`` 1500, ``num_features`` 32, ``num_classes`` 6, ``public_fraction`` 0.1,
    ``test_fraction`` 0.2.
    """
    return LOADERS["synthetic"].load(seed=seed, **options)


def load_builtin(name: str, seed: int = 0, public_fraction: float | None = None) -> DataBundle:
    """One of the built-in datasets (:func:`builtin_names`) by name; ``public_fraction`` overrides the default."""
    if name not in LOADERS or not LOADERS[name].builtin:
        raise DataError(
            f"unknown dataset {name!r}; built-in datasets are {', '.join(builtin_names())} (or give a file)"
        )
    kwargs = {} if public_fraction is None else {"public_fraction": public_fraction}
    return LOADERS[name].load(seed=seed, **kwargs)


BUILTIN = builtin_names()


# -- user files (read in batches by unlearnkit.data.tables) -------------------------------------


def resolve_data(
    spec: str,
    seed: int = 0,
    public: str | None = None,
    public_fraction: float | None = None,
    num_classes: int | None = None,
) -> DataBundle:
    """A built-in dataset name, a regression set's name, or a file path, with an optional public file.

    The label set is, in order: ``num_classes`` (declared), the built-in dataset's own, or the public file's
    labels (never deletable). A training file with neither gets an *inferred* label set, which is fine for a
    monolithic model but refused by exact strategies. The regression sets
    (:data:`~unlearnkit.data.regression.REGRESSION_DATASETS`) have float targets and no label set.
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
        raise DataError(f"the class count must be a positive integer, got {num_classes!r}")
    from unlearnkit.data.regression import REGRESSION_DATASETS, load_regression

    if spec in REGRESSION_DATASETS:
        if num_classes is not None or public is not None or public_fraction is not None:
            raise DataError(
                f"{spec} is a regression set (float targets): --classes/--public/--public-fraction do not apply"
            )
        return load_regression(spec, seed)
    if spec in BUILTIN:
        bundle = load_builtin(spec, seed=seed, public_fraction=public_fraction)
        if num_classes is not None and num_classes != bundle.num_classes:
            raise DataError(f"{spec} has {bundle.num_classes} classes, not {num_classes}")
        if public is not None:
            pub = load_table(public, bundle.num_classes)
            if pub.num_features != bundle.num_features:
                raise DataError(f"{public}: {pub.num_features} features, {spec} has {bundle.num_features}")
            bundle = DataBundle(bundle.train, bundle.test, pub, bundle.name)
        return bundle
    pub = None
    if public is not None:
        pub = load_table(public, num_classes)
        if num_classes is None:  # the public split's labels are never deleted: they may define the label set
            pub = replace_label_source(pub, "public")
    train = load_table(spec, num_classes)
    if pub is not None:
        if pub.num_features != train.num_features:
            raise DataError(f"{public}: {pub.num_features} features, the training file has {train.num_features}")
        overlap = set(pub.id_list()) & set(train.id_list())
        if overlap:
            raise DataError(f"{public}: public ids must not also be training ids (e.g. {min(overlap)})")
        if num_classes is None:
            top = int(train.y.argmax())
            if int(train.y[top]) >= pub.num_classes:
                raise DataError(
                    f"{spec}: sample id {int(train.ids[top])} has label {int(train.y[top])}, outside the label set "
                    f"0..{pub.num_classes - 1} taken from the public file; declare the class count (--classes)"
                )
            train = dataclasses.replace(train, num_classes=pub.num_classes, label_source="public", _pos={})
    return DataBundle(train=train, test=None, public=pub, name=train.name)


def replace_label_source(data: IdDataset, source: str) -> IdDataset:
    return dataclasses.replace(data, label_source=source, _pos={})


# -- user files as a registered loader (the exactness suite reads rows back through both readers) ----------
def _through_files(raw: DataBundle) -> DataBundle:
    """Write the raw splits as a user's files (train CSV; public and test Parquet when pyarrow is installed,
    else CSV) and read them back with :func:`resolve_data`/:func:`load_table`."""
    pq_suffix = ".parquet" if _parquet_available() else ".csv"
    with tempfile.TemporaryDirectory(prefix="unlearnkit-files.") as tmp:
        paths = {}
        for part, suffix in (("train", ".csv"), ("public", pq_suffix), ("test", pq_suffix)):
            d = getattr(raw, part)
            if d is not None:
                paths[part] = Path(tmp) / f"{part}{suffix}"
                _write_table(d, paths[part])
        bundle = resolve_data(str(paths["train"]), public=str(paths["public"]) if "public" in paths else None)
        test = load_table(paths["test"], bundle.num_classes) if "test" in paths else None
    return DataBundle(bundle.train, test, bundle.public, raw.name)


def _write_table(data: IdDataset, path: Path) -> None:
    if path.suffix == ".csv":
        write_csv(data, path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {"id": data.id_list(), "label": data.y.tolist()}
    if data.owners is not None:
        cols["owner"] = list(data.owners)
    cols.update({f"f{k}": data.x[:, k].numpy() for k in range(data.num_features)})
    pq.write_table(pa.table(cols), path)


def _parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


register_loader("files", prepare=_through_files, tiny={"num_samples": 400}, builtin=False)(_synthetic_raw)
