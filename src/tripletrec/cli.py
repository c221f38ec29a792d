"""The ``tripletrec`` command.

User errors (bad arguments, missing data, unreadable files) end with exit
status 2 and one line on stderr, never a traceback. Every subcommand but
``serve`` (an HTTP server, see :mod:`tripletrec._cli_serve`) takes ``--json``
and then prints exactly one JSON document on stdout.

Metric names are those of :func:`tripletrec.metrics.evaluate`: ``auc`` ranks
each user's candidates without their training items, ``auc_all`` (the seed
notebook's definition) counts training items as negatives.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from . import _cli_data as data_options
from ._cli_data import UserError
from ._cli_serve import add_serve_parser
from ._version import __version__

EXIT_USER_ERROR = 2

# The metrics fit reports per epoch, and evaluate reports in full.
FIT_METRICS = ("auc", "auc_all", "precision")
EVALUATE_METRICS = ("auc", "auc_all", "precision", "recall", "ndcg", "map", "hit_rate", "mrr", "coverage")
# Model constructor parameters the CLI sets, and the flag that sets each: the
# model's messages name parameters, the user typed flags.
PARAMETER_FLAGS = {
    "dim": "--dim",
    "loss": "--loss",
    "optimizer": "--optimizer",
    "learning_rate": "--learning-rate",
    "l2": "--l2",
    "negatives": "--negatives",
    "n_negatives": "--n-negatives",
    "epochs": "--epochs",
    "threads": "--threads",
    "seed": "--seed",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UserError(f"{self.prog}: {message} (see --help)")


# Where a parameter is named in the library's messages: "dim must be ...", "l2=50",
# "learning_rate * l2 >= 1", "a lower learning_rate than 1", "lower dim". A bare word
# ("the training loss became nan") is left alone.
_NAMED_AFTER = r"(?=\s+must\b|=|\s*\*|\s*>=|\s+than\b|\)|;|$)"


def flags_for_parameters(message: str) -> str:
    """``message`` with each model parameter name, where it names the parameter, replaced by its CLI flag."""
    for name, flag in PARAMETER_FLAGS.items():
        message = re.sub(rf"(?<![\w-]){name}{_NAMED_AFTER}|(?<=lower ){name}(?![\w-])", flag, message)
    return message


def _print_json(document) -> None:
    # default=float: numpy scalars in histories and parameters.
    print(json.dumps(document, default=float))


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of text")


def _check_k(k: int, flag: str = "-k") -> None:
    if k < 1:
        raise UserError(f"{flag} must be a positive integer, got {k}")


# ------------------------------------------------------------------ datasets
def _command_datasets(args: argparse.Namespace) -> int:
    rows = data_options.describe_splits()
    if args.json:
        _print_json(rows)
        return 0
    width = max(len(row["dataset"]) for row in rows)
    generic = ", ".join(data_options.GENERIC_SPLITS)
    print(f"{'dataset':<{width}}  {'official splits':<26}  {'status':<9}  location")
    for row in rows:
        official = ", ".join(s for s in row["splits"] if s not in data_options.GENERIC_SPLITS) or "-"
        location = row["location"] or "-"
        if row["status"] == "download":
            location = f"{row['url']} -> {row['location']}"
        elif row["status"] == "broken":
            location = f"{row['location']}: {row['detail']}"
        print(f"{row['dataset']:<{width}}  {official:<26}  {row['status']:<9}  {location}")
    print(f"every dataset, and --data FILE, also takes --split {generic}")
    return 0


# ---------------------------------------------------------------------- info
def _dataset_document(data) -> dict:
    interactions = data.interactions
    weights = interactions.weights
    return {
        "dataset": data.name,
        "source": data.source or None,
        "users": int(interactions.n_users),
        "items": int(interactions.n_items),
        "interactions": int(len(interactions)),
        "density": len(interactions) / max(1, interactions.n_users * interactions.n_items),
        "weights": {"min": float(weights.min()), "mean": float(weights.mean()), "max": float(weights.max())}
        if len(interactions)
        else None,
        "train": None if data.train is None else int(len(data.train)),
        "test": None if data.test is None else int(len(data.test)),
        "user_features": {name: len(feature.columns) for name, feature in data.user_features.items()},
        "item_features": {name: len(feature.columns) for name, feature in data.item_features.items()},
    }


def _command_info(args: argparse.Namespace) -> int:
    args = data_options.with_defaults(args)
    data_options.check_data_options(args)
    data = data_options.load_dataset(args, quiet=args.json)
    if args.json:
        _print_json(_dataset_document(data))
    else:
        print(data.summary())
    return 0


# ----------------------------------------------------------------------- fit
def _training_arguments(parser: argparse.ArgumentParser) -> None:
    training = parser.add_argument_group("training")
    training.add_argument("--loss", default="bpr", help="bpr, sigmoid, hinge, warp, warp-kos or logistic (default bpr)")
    training.add_argument("--dim", type=int, default=64, help="embedding size (default 64)")
    training.add_argument(
        "--epochs", type=int, default=None, help="passes over the training data (model default if omitted)"
    )
    training.add_argument(
        "--optimizer", default="rowwise-adagrad", help="sgd, adagrad, rowwise-adagrad or adam (default rowwise-adagrad)"
    )
    training.add_argument("--learning-rate", type=float, default=None, help="step size (model default if omitted)")
    training.add_argument("--l2", type=float, default=None, help="L2 penalty (model default if omitted)")
    training.add_argument("--negatives", default="uniform", help="uniform, unseen or popularity (default uniform)")
    training.add_argument("--n-negatives", type=int, default=1, help="negatives per positive (default 1)")
    training.add_argument("--threads", type=int, default=None, help="training threads (default: all cores)")
    training.add_argument(
        "--features",
        action="store_true",
        help="train the hybrid on the dataset's side features (MovieLens: age, gender, occupation, zip; "
        "genres, decade, title words)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("-k", type=int, default=10, help="cut of precision@k (default 10)")
    _add_json(output)
    output.add_argument("--out", default=None, help="save the trained model to this .npz file")
    output.add_argument(
        "--plot", default=None, help="save the per-epoch training curve to this PNG (needs the plot extra)"
    )


def _build_model(args: argparse.Namespace):
    """The model the training options describe, checked before any data is read."""
    from .models import MatrixFactorization

    options = {
        "dim": args.dim,
        "loss": args.loss,
        "optimizer": args.optimizer,
        "negatives": args.negatives,
        "n_negatives": args.n_negatives,
        "threads": args.threads,
        "seed": args.seed,
    }
    for name in ("learning_rate", "l2", "epochs"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    model = MatrixFactorization(**options)
    try:
        model._validate_params()
    except ValueError as error:
        # The model names itself first ("MatrixFactorization: dim must be ..."); the CLI user
        # knows the options, not the class.
        message = str(error).removeprefix(f"{type(model).__name__}: ")
        message = message.replace(f"{type(model).__name__} has ", "", 1)
        raise UserError(flags_for_parameters(message)) from None
    return model


def _evaluation_document(result) -> dict:
    return {"metrics": result.means, "users": int(result.n_evaluated), "skipped": int(result.n_skipped), "k": result.k}


def _command_fit(args: argparse.Namespace) -> int:
    import numpy as np

    from .metrics import evaluate

    args = data_options.with_defaults(args)
    data_options.check_data_options(args)
    _check_k(args.k)
    model = _build_model(args)
    if args.plot is not None:
        _check_plotting()
    if args.features and (args.data is not None or args.dataset == "synthetic"):
        where = f"--data {args.data}" if args.data is not None else "--dataset synthetic"
        raise UserError(f"--features needs a MovieLens dataset with side features; {where} has none")
    data = data_options.load_dataset(args, quiet=args.json)
    train = data.train if data.train is not None else data.interactions
    features = {}
    if args.features:
        from .data import movielens_features

        user_features, item_features = movielens_features(data)
        features = {"user_features": user_features, "item_features": item_features}
    test = data.test
    if args.k > train.n_items:
        raise UserError(f"-k must be at most the number of items ({train.n_items}), got {args.k}")
    precision_key = f"precision@{args.k}"
    metric_keys = ["auc", "auc_all", precision_key] if test is not None else []
    columns = ["epoch", "loss", "seconds", *metric_keys]
    if not args.json:
        print(
            f"{data.name}: {train.n_users:,} users x {train.n_items:,} items, {len(train):,} training pairs"
            + (f", {len(test):,} test pairs" if test is not None else "")
            + (
                f"; side features: {len(features['user_features'].columns)} user and "
                f"{len(features['item_features'].columns)} item columns"
                if features
                else ""
            )
        )
        print("  ".join(f"{name:>12}" for name in columns))

    def report(fitted, record):
        if not args.json:
            cells = [f"{record['epoch']:>12d}"] + [f"{record[name]:>12.4f}" for name in columns[1:]]
            print("  ".join(cells), flush=True)

    try:
        # With a test part, fit records auc, auc_all and precision@k in history_
        # under the same names evaluate uses.
        model.fit(train, test, metrics=FIT_METRICS, k=args.k, callbacks=[report], progress=False, **features)
    except (FloatingPointError, ValueError) as error:
        # Divergence, and settings the data makes impossible (memory for dim): name the flags.
        raise UserError(flags_for_parameters(str(error))) from None
    evaluation = None
    if test is not None:
        evaluation = evaluate(model, test, train=train, k=args.k, metrics=FIT_METRICS)
    saved = None
    if args.out is not None:
        if data.item_titles is not None:
            model.item_names_ = data.item_titles
        saved = str(model.save(args.out, metadata=data_options.metadata(args)))
    if args.plot is not None:
        _plot_history(model.history_, args.plot, title=f"{data.name}, loss {args.loss}, dim {args.dim}")
    total = sum(record["seconds"] for record in model.history_)
    if args.json:
        _print_json(
            {
                "dataset": data.name,
                "source": data.source or None,
                "train_pairs": int(len(train)),
                "test_pairs": None if test is None else int(len(test)),
                "params": model.get_params(),
                "features": {
                    side: None
                    if getattr(model, f"{side}_feature_names_", None) is None
                    else len(getattr(model, f"{side}_feature_names_"))
                    for side in ("user", "item")
                },
                "history": model.history_,
                "evaluation": None if evaluation is None else _evaluation_document(evaluation),
                "model": saved,
                "plot": args.plot,
                "training_seconds": total,
            }
        )
        return 0
    if saved is not None:
        print(f"model saved to {saved}")
    if args.plot is not None:
        print(f"training curve saved to {args.plot}")
    # The median epoch: the first epoch of a new installation also compiles the kernels.
    median_epoch = float(np.median([record["seconds"] for record in model.history_]))
    pairs_per_second = len(train) / max(median_epoch, 1e-9)
    summary = (
        f"trained {len(model.history_)} epochs in {total:.2f} s ({pairs_per_second:,.0f} pairs/s in the median epoch)"
    )
    if evaluation is not None:
        summary += "; test " + ", ".join(f"{name} {value:.4f}" for name, value in evaluation.means.items())
    print(summary)
    return 0


def _check_plotting() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'tripletrec[plot]'") from None


def _plot_history(history: list, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [record["epoch"] for record in history]
    # Curves are labelled with the history keys (auc, auc_all, precision@k), the
    # names evaluate and the JSON output use.
    metric_names = [name for name in history[-1] if name not in ("epoch", "loss", "seconds")]
    figure, axes = plt.subplots(1, 1 + bool(metric_names), figsize=(5 + 4 * bool(metric_names), 3.5))
    axes = list(axes) if metric_names else [axes]
    axes[0].plot(epochs, [record["loss"] for record in history], marker="o")
    axes[0].set(xlabel="epoch", ylabel="training loss", title=title)
    for name in metric_names:
        axes[1].plot(epochs, [record[name] for record in history], marker="o", label=name)
    if metric_names:
        axes[1].set(xlabel="epoch", ylabel="test metric")
        axes[1].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ------------------------------------------------- evaluate, recommend, similar
def _load_model(path: str):
    from .models import load

    return load(path)


def _model_data(args: argparse.Namespace, model):
    """The data a saved model's commands read: the options given, else the model's record."""
    merged = data_options.with_defaults(data_options.from_model(args, model))
    data_options.check_data_options(merged)
    return data_options.load_dataset(merged, quiet=getattr(args, "json", False))


def _parse_ids(values: list[str], id_map, what: str, names=None):
    """External ids from command-line strings: ids of the map's type, or exact names."""
    import numpy as np

    parsed = []
    for value in values:
        if id_map.ids.dtype.kind in "iu":
            try:
                candidate = int(value)
            except ValueError:
                candidate = None
        else:
            candidate = value
        if candidate is not None and candidate in id_map:
            parsed.append(candidate)
            continue
        if names is not None:
            matches = np.flatnonzero(np.asarray(names) == value)
            if len(matches) == 1:
                parsed.append(id_map.ids[matches[0]].item())
                continue
            if len(matches) > 1:
                raise UserError(f"--{what} {value!r} names {len(matches)} items; give its id instead")
        alternative = " nor an exact title" if names is not None else ""
        raise UserError(f"--{what} {value!r} is neither an id of the model{alternative}")
    return parsed


def _ranked_items(ids, scores, names, id_map) -> list[dict]:
    """``[{"id", "score"[, "title"]}]`` best first, without the padding of short lists."""
    import numpy as np

    items = []
    for item, score in zip(ids.tolist(), scores.tolist()):
        if not np.isfinite(score):
            continue
        entry = {"id": item, "score": float(score)}
        if names is not None:
            entry["title"] = str(names[id_map.to_index([item])[0]])
        items.append(entry)
    return items


def _print_ranked(heading: str, items: list[dict]) -> None:
    print(heading)
    titled = any("title" in entry for entry in items)
    print(f"{'rank':>4}  {'item':>8}  {'score':>9}" + ("  title" if titled else ""))
    for rank, entry in enumerate(items, start=1):
        title = f"  {entry['title']}" if "title" in entry else ""
        print(f"{rank:>4}  {entry['id']!s:>8}  {entry['score']:>9.4f}{title}")


def _command_evaluate(args: argparse.Namespace) -> int:
    from .metrics import evaluate

    _check_k(args.k)
    model = _load_model(args.model)
    data = _model_data(args, model)
    if data.test is None:
        raise UserError(f"{data.name} has no test part: give --split (see `tripletrec datasets`)")
    if args.k > data.test.n_items:
        raise UserError(f"-k must be at most the number of items ({data.test.n_items}), got {args.k}")
    result = evaluate(model, data.test, train=data.train, k=args.k, metrics=EVALUATE_METRICS)
    if args.json:
        _print_json({"dataset": data.name, "model": args.model, **_evaluation_document(result)})
        return 0
    print(
        f"{data.name}: {result.n_evaluated:,} test users ({result.n_skipped:,} without test positives skipped); "
        "auc and the @k metrics rank without training items, auc_all counts them as negatives"
    )
    width = max(len(name) for name in result.means)
    print(f"{'metric':>{width}}  value")
    for name, value in result.means.items():
        print(f"{name:>{width}}  {value:.4f}")
    return 0


def _command_recommend(args: argparse.Namespace) -> int:
    _check_k(args.k)
    model = _load_model(args.model)
    exclude = None
    if not args.include_seen:
        data = _model_data(args, model)
        exclude = data.train if data.train is not None else data.interactions
    names = getattr(model, "item_names_", None)
    users = _parse_ids(args.user, model.user_ids_, "user")
    ids, scores = model.recommend(users, k=args.k, exclude=exclude)
    lists = [
        {"user": user, "items": _ranked_items(ids[position], scores[position], names, model.item_ids_)}
        for position, user in enumerate(users)
    ]
    if args.json:
        _print_json(lists)
        return 0
    for entry in lists:
        _print_ranked(f"top {args.k} for user {entry['user']}:", entry["items"])
    return 0


def _command_similar(args: argparse.Namespace) -> int:
    _check_k(args.k)
    model = _load_model(args.model)
    names = getattr(model, "item_names_", None)
    items = _parse_ids(args.item, model.item_ids_, "item", names)
    ids, scores = model.similar_items(items, k=args.k)
    lists = []
    for position, item in enumerate(items):
        entry = {"item": item}
        if names is not None:
            entry["title"] = str(names[model.item_ids_.to_index([item])[0]])
        entry["items"] = _ranked_items(ids[position], scores[position], names, model.item_ids_)
        lists.append(entry)
    if args.json:
        _print_json(lists)
        return 0
    for entry in lists:
        label = f"{entry['item']}" + (f" ({entry['title']})" if "title" in entry else "")
        _print_ranked(f"{args.k} items most similar to {label}:", entry["items"])
    return 0


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``tripletrec`` argument parser, one subparser per command."""
    parser = _Parser(
        prog="tripletrec",
        description="Recommendations from implicit feedback with triplet ranking losses.",
    )
    parser.add_argument("--version", action="version", version=f"tripletrec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    info = commands.add_parser("info", help="load a dataset and print its summary")
    data_options.add_data_arguments(info)
    _add_json(info)
    info.set_defaults(handler=_command_info)

    fit = commands.add_parser("fit", help="train a MatrixFactorization model and print per-epoch metrics")
    data_options.add_data_arguments(fit)
    _training_arguments(fit)
    fit.set_defaults(handler=_command_fit)

    evaluation = commands.add_parser(
        "evaluate", help="evaluate a saved model on its data's test part (auc, auc_all and the @k metrics)"
    )
    evaluation.add_argument("model", help="model file written by fit --out")
    data_options.add_data_arguments(evaluation)
    evaluation.add_argument("-k", type=int, default=10, help="cut of the @k metrics (default 10)")
    _add_json(evaluation)
    evaluation.set_defaults(handler=_command_evaluate)

    recommend = commands.add_parser("recommend", help="top-k items for users of a saved model")
    recommend.add_argument("model", help="model file written by fit --out")
    recommend.add_argument("--user", action="append", required=True, help="user id (repeat for several)")
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.add_argument(
        "--include-seen", action="store_true", help="do not exclude the user's training items (then no data is read)"
    )
    data_options.add_data_arguments(recommend)
    _add_json(recommend)
    recommend.set_defaults(handler=_command_recommend)

    similar = commands.add_parser("similar", help="items most similar to an item (id or exact title)")
    similar.add_argument("model", help="model file written by fit --out")
    similar.add_argument("--item", action="append", required=True, help="item id or exact title (repeat for several)")
    similar.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    _add_json(similar)
    similar.set_defaults(handler=_command_similar)

    add_serve_parser(commands)

    listing = commands.add_parser("datasets", help="list datasets, their splits and where each is found")
    _add_json(listing)
    listing.set_defaults(handler=_command_datasets)
    return parser


def _print_file_names_as_given() -> None:
    # POSIX file names are bytes and may not be UTF-8; Python carries such bytes
    # as lone surrogates, which a strict encoder refuses to print. Writing them
    # back as the original bytes, as ls does, prints the name the user gave.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):  # a stream that cannot change (closed, detached)
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _print_file_names_as_given()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_usage(sys.stderr)
            return EXIT_USER_ERROR
        return int(args.handler(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as error:
        # ValueError covers corrupt archives and model files; FileNotFoundError a missing model file.
        message = " ".join(line.strip() for line in str(error).splitlines()) or type(error).__name__
        if not message.startswith("tripletrec"):
            message = f"tripletrec: error: {message}"
        print(message, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("tripletrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout (head, a closed pager) left; nothing is wrong with the command.
        sys.stdout = None
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
