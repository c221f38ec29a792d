"""The data side of the ``tripletrec`` command: which data, which split, read how.

Every check that needs no data runs in :func:`check_data_options`, before
anything is read, so a mistyped option is reported at once rather than after
(or instead of) a slow or failing load.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


class UserError(Exception):
    """An error the user can fix; reported in one line with exit status 2."""


DATA_ENV = "TRIPLETREC_DATA"
SYNTHETIC = "synthetic"
NO_SPLIT = "none"
# Splits the CLI makes itself with tripletrec.data.split, for every source.
GENERIC_SPLITS = ("none", "random", "leave-one-out", "leave-k-out", "temporal")

# Defaults live here, not in argparse, so commands that read a saved model can
# tell "not given" from "given" and fall back to what the model was fitted on.
DATA_DEFAULTS = {
    "dataset": "ml-100k",
    "split": NO_SPLIT,
    "test_fraction": 0.2,
    "k_out": 1,
    "sep": ",",
    "users": 5000,
    "items": 2000,
    "interactions": 100_000,
    "seed": 0,
}
# What a model file records about its data, so evaluate and recommend can reload it.
METADATA_KEYS = (
    "dataset",
    "data",
    "user_col",
    "item_col",
    "weight_col",
    "time_col",
    "sep",
    "split",
    "test_fraction",
    "k_out",
    "min_rating",
    "data_path",
    "users",
    "items",
    "interactions",
    "seed",
)
# Options that name where the data comes from: given any of them, a saved
# model's record of its data is not used at all (mixing the two would, say,
# apply ml-100k's split "ua" to the user's own file).
SOURCE_KEYS = ("dataset", "data")
_FILE_COLUMN_FLAGS = {
    "user_col": "--user-col",
    "item_col": "--item-col",
    "weight_col": "--weight-col",
    "time_col": "--time-col",
}


def official_splits() -> dict[str, tuple[str, ...]]:
    """dict: MovieLens variant -> its official splits (empty for most)."""
    from .data.sources import VARIANTS

    return {name: variant.splits for name, variant in VARIANTS.items()}


def dataset_names() -> list[str]:
    """list of str: every value ``--dataset`` accepts."""
    return [*official_splits(), SYNTHETIC]


def valid_splits(dataset: str) -> tuple[str, ...]:
    """The splits ``--split`` accepts for ``dataset`` (a name, or None for ``--data``)."""
    return official_splits().get(dataset, ()) + GENERIC_SPLITS


def split_help() -> str:
    """The ``--split`` help: the valid splits per dataset."""
    official = "; ".join(f"{name}: {', '.join(splits)}" for name, splits in official_splits().items() if splits)
    return (
        f"train/test split. Official: {official}. Every dataset and --data FILE: "
        f"{', '.join(GENERIC_SPLITS)} (default none; random and temporal hold out "
        "--test-fraction, leave-k-out holds out --k-out random pairs per user). "
        "`tripletrec datasets` lists them"
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose and split the data, all defaulting to None (see DATA_DEFAULTS)."""
    source = parser.add_argument_group("data")
    source.add_argument("--dataset", default=None, help=f"{', '.join(dataset_names())} (default ml-100k)")
    source.add_argument(
        "--data",
        default=None,
        metavar="FILE",
        help="train on your own CSV file (Parquet by the .parquet extension) instead of --dataset",
    )
    source.add_argument("--user-col", default=None, help="--data: the column of user ids")
    source.add_argument("--item-col", default=None, help="--data: the column of item ids")
    source.add_argument("--weight-col", default=None, help="--data: a column of weights (default: every pair weighs 1)")
    source.add_argument(
        "--time-col",
        default=None,
        help="--data: a column of timestamps (integers or ISO dates; needed by --split temporal)",
    )
    source.add_argument("--sep", default=None, help="--data: CSV field separator, one character or \\t (default ,)")
    source.add_argument("--split", default=None, help=split_help())
    source.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="share of pairs held out by --split random or temporal (default 0.2)",
    )
    source.add_argument(
        "--k-out", type=int, default=None, help="pairs per user held out by --split leave-k-out (default 1)"
    )
    source.add_argument(
        "--min-rating", type=float, default=None, help="keep pairs whose rating (MovieLens) or --weight-col is >= this"
    )
    source.add_argument(
        "--data-path",
        default=None,
        help=f"MovieLens archive or folder to read instead of searching ${DATA_ENV} and the cache",
    )
    source.add_argument("--no-download", action="store_true", help="never download; fail if not found")
    source.add_argument("--users", type=int, default=None, help="synthetic: number of users (default 5000)")
    source.add_argument("--items", type=int, default=None, help="synthetic: number of items (default 2000)")
    source.add_argument(
        "--interactions", type=int, default=None, help="synthetic: number of interactions (default 100000)"
    )
    source.add_argument(
        "--seed", type=int, default=None, help="random seed of the model, synthetic data and splits (default 0)"
    )


def with_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """A copy of ``args`` whose unset data options hold their defaults."""
    if getattr(args, "data", None) is not None and getattr(args, "dataset", None) is not None:
        raise UserError("give either --dataset or --data, not both")
    filled = argparse.Namespace(**vars(args))
    for key, value in DATA_DEFAULTS.items():
        if getattr(filled, key, None) is None:
            setattr(filled, key, value)
    if getattr(filled, "data", None) is not None:
        filled.dataset = None
    return filled


def from_model(args: argparse.Namespace, model) -> argparse.Namespace:
    """Data options: those given on the command line, else those the model was fitted on."""
    merged = argparse.Namespace(**vars(args))
    if any(getattr(args, key, None) is not None for key in SOURCE_KEYS):
        return merged
    saved = getattr(model, "metadata_", None) or {}
    for key in METADATA_KEYS:
        if getattr(merged, key, None) is None and saved.get(key) is not None:
            setattr(merged, key, saved[key])
    merged.data_from_model = merged.data is not None
    return merged


def metadata(args: argparse.Namespace) -> dict:
    """What a saved model records about its data (the file as an absolute path)."""
    recorded = {key: getattr(args, key, None) for key in METADATA_KEYS}
    if recorded["data"] is not None:
        recorded["data"] = str(Path(recorded["data"]).expanduser().resolve())
    return recorded


def _separator(sep: str) -> str:
    # A tab is hard to type in a shell, so the two-character "\t" stands for it.
    return "\t" if sep == "\\t" else sep


def check_data_options(args: argparse.Namespace) -> None:
    """Raise UserError for any data option that is wrong without reading any data.

    ``args`` must have been through :func:`with_defaults`.
    """
    from_file = args.data is not None
    if from_file:
        for key in ("user_col", "item_col"):
            if getattr(args, key) is None:
                raise UserError(f"--data needs {_FILE_COLUMN_FLAGS[key]} (the column of {key[:4]} ids)")
        if len(_separator(args.sep)) != 1:
            raise UserError(f"--sep must be one character (or \\t for a tab), got {args.sep!r}")
        if Path(args.data).suffix.lower() == ".parquet":
            _require_parquet_support()
    else:
        given = [flag for key, flag in _FILE_COLUMN_FLAGS.items() if getattr(args, key, None) is not None]
        if given:
            raise UserError(f"{given[0]} needs --data FILE")
        if args.dataset not in dataset_names():
            raise UserError(f"--dataset {args.dataset!r} is unknown; valid datasets are {', '.join(dataset_names())}")
    if args.split not in valid_splits(args.dataset):
        where = f"--data {args.data}" if from_file else args.dataset
        official = "; ".join(f"{name}: {', '.join(s)}" for name, s in official_splits().items() if s)
        raise UserError(
            f"--split {args.split!r} is not a split of {where}; valid splits are "
            f"{', '.join(valid_splits(args.dataset))} (official splits: {official})"
        )
    if args.split == "temporal" and from_file and args.time_col is None:
        raise UserError("--split temporal needs --time-col (the column of timestamps)")
    if not (isinstance(args.test_fraction, float) and 0.0 < args.test_fraction < 1.0):
        raise UserError(f"--test-fraction must be between 0 and 1 (exclusive), got {args.test_fraction}")
    if args.k_out < 1:
        raise UserError(f"--k-out must be a positive integer, got {args.k_out}")
    if args.min_rating is not None:
        if not math.isfinite(args.min_rating):
            raise UserError(f"--min-rating must be a finite number, got {args.min_rating}")
        if from_file and args.weight_col is None:
            raise UserError("--min-rating on --data needs --weight-col (the column it thresholds)")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.dataset == SYNTHETIC:
        for key in ("users", "items", "interactions"):
            if getattr(args, key) < 1:
                raise UserError(f"--{key} must be a positive integer, got {getattr(args, key)}")


def _require_parquet_support() -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError(
            "reading Parquet needs pandas and pyarrow: pip install pandas pyarrow (or give a CSV file)"
        ) from None


# ------------------------------------------------------------------ loading
def load_dataset(args: argparse.Namespace, *, quiet: bool = False):
    """The Dataset the data options name, split as ``--split`` says.

    Parameters
    ----------
    args : argparse.Namespace
        Data options, through :func:`with_defaults` and :func:`check_data_options`.
    quiet : bool
        Never show a download progress bar (for ``--json``).
    """
    from . import data as datasets

    if args.data is not None:
        data = read_interactions_file(args)
    elif args.dataset == SYNTHETIC:
        data = datasets.synthetic(
            n_users=args.users, n_items=args.items, n_interactions=args.interactions, seed=args.seed
        )
    else:
        official = args.split in official_splits()[args.dataset]
        try:
            data = datasets.movielens(
                args.dataset,
                split=args.split if official else None,
                min_rating=args.min_rating,
                path=args.data_path,
                download=not args.no_download,
                progress=sys.stderr.isatty() and not quiet,
            )
        except datasets.DatasetNotFoundError as error:
            raise UserError(_not_found_message(str(error), args)) from None
        if official:
            return data
    return _generic_split(data, args)


def _not_found_message(message: str, args: argparse.Namespace) -> str:
    """The library's message with its Python advice swapped for the CLI's flags."""
    for python_advice in ("Downloading is off", "Put ", "pass path="):
        if python_advice in message:
            message = message[: message.index(python_advice)]
    message = message.replace("path=", "--data-path ").rstrip(" ,;.\n")
    from .data.sources import VARIANTS

    archive = VARIANTS[args.dataset].archive
    advice = f"put {archive} in the folder named by {DATA_ENV} or give --data-path PATH/{archive}"
    if args.no_download and args.data_path is None:
        advice += ", or drop --no-download to download it"
    return f"{message}; {advice}"


def _generic_split(data, args: argparse.Namespace):
    from .data import split as splits

    if args.split == NO_SPLIT:
        return data
    interactions = data.interactions
    if args.split == "random":
        train, test = splits.random_split(interactions, test_fraction=args.test_fraction, seed=args.seed)
    elif args.split in ("leave-one-out", "leave-k-out"):
        k = 1 if args.split == "leave-one-out" else args.k_out
        train, test = splits.leave_k_out(interactions, k=k, seed=args.seed)
    else:
        if interactions.timestamps is None:
            raise UserError(f"--split temporal needs timestamps, but {data.name} has none")
        train, test = splits.temporal_split(interactions, test_fraction=args.test_fraction)
    if len(test) == 0:
        raise UserError(
            f"--split {args.split} left no test pair in {data.name}; raise --test-fraction or give more data"
        )
    return replace(data, train=train, test=test)


def read_interactions_file(args: argparse.Namespace):
    """A Dataset from the user's own file (``--data`` and its column options)."""
    from .data.dataset import Dataset
    from .data.interactions import Interactions

    path = Path(args.data).expanduser()
    if not path.is_file():
        if getattr(args, "data_from_model", False):
            raise UserError(
                f"the model was fitted on {args.data}, which is gone: give --data FILE and its column options"
            )
        raise UserError(f"--data {args.data}: no such file")
    columns = {key: getattr(args, key) for key in _FILE_COLUMN_FLAGS}
    try:
        import pandas
    except ImportError:
        pandas = None
    try:
        if pandas is not None:
            frame = _read_frame(pandas, path, _separator(args.sep))
            _check_columns(path, columns, [str(name) for name in frame.columns])
            if args.time_col is not None and frame[args.time_col].dtype == object:
                frame[args.time_col] = _parse_times(frame[args.time_col].to_numpy(), path, args.time_col)
            interactions = Interactions.from_dataframe(
                frame, args.user_col, args.item_col, args.weight_col, args.time_col
            )
        else:
            header, rows = _read_csv(path, _separator(args.sep))
            _check_columns(path, columns, header)
            values = {key: _column(rows, header.index(name), path, name, key) for key, name in columns.items() if name}
            interactions = Interactions.from_arrays(
                values["user_col"], values["item_col"], values.get("weight_col"), values.get("time_col")
            )
    except (ValueError, TypeError) as error:
        # Interactions' own checks: negative or non-finite weights, empty ids, ...
        raise UserError(f"--data {path}: {error}") from None
    if len(interactions) == 0:
        raise UserError(f"--data {path} has no rows")
    if args.min_rating is not None:
        interactions = interactions.threshold(args.min_rating)
    return Dataset(name=path.name, interactions=interactions, source=str(path.resolve()))


def _read_frame(pandas, path: Path, sep: str):
    try:
        if path.suffix.lower() == ".parquet":
            return pandas.read_parquet(path)
        return pandas.read_csv(path, sep=sep)
    except (ValueError, OSError, pandas.errors.ParserError) as error:
        message = " ".join(str(error).split())
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
        raise UserError(f"--data {path} is not readable as {kind}: {message}") from None


def _read_csv(path: Path, sep: str) -> tuple[list[str], list[list[str]]]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=sep)
        header = next(reader, None)
        if header is None:
            raise UserError(f"--data {path} is empty: it needs a header row naming the columns")
        rows = [row for row in reader if row]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise UserError(f"--data {path}: line {number} has {len(row)} fields but the header has {len(header)}")
    return header, rows


def _check_columns(path: Path, columns: dict, found: list[str]) -> None:
    missing = [f"{_FILE_COLUMN_FLAGS[key]} {name!r}" for key, name in columns.items() if name and name not in found]
    if missing:
        raise UserError(f"{' and '.join(missing)}: no such column in {path.name}; its columns are {', '.join(found)}")


def _column(rows: list[list[str]], position: int, path: Path, name: str, key: str) -> np.ndarray:
    """One CSV column as the type pandas would infer: int64, float64 or str."""
    texts = [row[position] for row in rows]
    if key == "weight_col":
        try:
            return np.array([float(text) for text in texts], dtype=np.float64)
        except ValueError:
            raise UserError(f"--weight-col {name!r} of {path.name} holds values that are not numbers") from None
    try:
        integers = [int(text) for text in texts]
    except ValueError:
        integers = None
    if integers is not None:
        if key == "time_col":
            return (
                np.array(integers, dtype=np.int64)
                if _fits(integers, np.int64)
                else _parse_times(np.array(texts), path, name)
            )
        # Hashed ids past int64 stay exact as uint64, as Interactions keeps them;
        # ids no 64-bit type holds are kept as their text.
        for dtype in (np.int64, np.uint64):
            if _fits(integers, dtype):
                return np.array(integers, dtype=dtype)
        return np.array(texts, dtype=str)
    if key == "time_col":
        return _parse_times(np.array(texts), path, name)
    return np.array(texts, dtype=str)


def _fits(integers: list[int], dtype: type) -> bool:
    limits = np.iinfo(dtype)
    return not integers or (min(integers) >= limits.min and max(integers) <= limits.max)


def _parse_times(values: np.ndarray, path: Path, name: str) -> np.ndarray:
    try:
        return np.array(values, dtype="datetime64[s]")
    except ValueError:
        raise UserError(
            f"--time-col {name!r} of {path.name} holds values that are neither integers nor ISO dates"
        ) from None


def describe_splits() -> list[dict]:
    """For ``tripletrec datasets``: each dataset, its splits and where it is."""
    from .data import describe_sources

    rows = []
    for source in describe_sources():
        rows.append(
            {
                "dataset": source.variant,
                "splits": list(valid_splits(source.variant)),
                "status": source.status,
                "location": source.location,
                "origin": source.origin,
                "url": source.url,
                "detail": source.detail,
            }
        )
    rows.append(
        {
            "dataset": SYNTHETIC,
            "splits": list(valid_splits(SYNTHETIC)),
            "status": "generated",
            "location": "",
            "origin": "",
            "url": "",
            "detail": "",
        }
    )
    return rows
