"""The ``tripletrec`` command.

User errors (bad arguments, missing data, unreadable files) end with exit
status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._version import __version__

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UserError(f"{self.prog}: {message} (see --help)")


_DATA_DEFAULTS = {"dataset": "ml-100k", "users": 5000, "items": 2000, "interactions": 100_000, "seed": 0}


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults are None here and filled in by _data_arguments, so commands that read a saved
    # model can tell "not given" from "given" and fall back to the data the model was fitted on.
    parser.add_argument(
        "--dataset",
        default=None,
        help="ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-latest-small or synthetic (default ml-100k)",
    )
    parser.add_argument("--split", default=None, help="official split, e.g. ua, ub, u1..u5 for ml-100k")
    parser.add_argument("--min-rating", type=float, default=None, help="keep ratings >= this as positives")
    parser.add_argument("--data-path", default=None, help="archive or folder to read instead of searching")
    parser.add_argument("--no-download", action="store_true", help="never download; fail if not found")
    parser.add_argument("--users", type=int, default=None, help="synthetic: number of users (default 5000)")
    parser.add_argument("--items", type=int, default=None, help="synthetic: number of items (default 2000)")
    parser.add_argument("--interactions", type=int, default=None, help="synthetic: number of interactions (default 100000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")


def _data_arguments(args: argparse.Namespace) -> argparse.Namespace:
    filled = argparse.Namespace(**vars(args))
    for key, value in _DATA_DEFAULTS.items():
        if getattr(filled, key, None) is None:
            setattr(filled, key, value)
    return filled


def load_dataset(args: argparse.Namespace):
    """The Dataset named by the common data arguments."""
    from . import data as datasets

    args = _data_arguments(args)

    if args.dataset == "synthetic":
        from .data.split import leave_k_out

        data = datasets.synthetic(
            n_users=args.users, n_items=args.items, n_interactions=args.interactions, seed=args.seed
        )
        if args.split is None:
            return data
        if args.split != "leave-one-out":
            raise UserError(f"--split for synthetic data must be leave-one-out, got {args.split!r}")
        train, test = leave_k_out(data.interactions, k=1, seed=args.seed)
        return type(data)(**{**data.__dict__, "train": train, "test": test})
    return datasets.movielens(
        args.dataset,
        split=args.split,
        min_rating=args.min_rating,
        path=args.data_path,
        download=not args.no_download,
        progress=sys.stderr.isatty(),
    )


def _command_info(args: argparse.Namespace) -> int:
    print(load_dataset(args).summary())
    return 0


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loss", default="bpr", help="bpr, sigmoid, hinge, warp, warp-kos or logistic (default bpr)")
    parser.add_argument("--dim", type=int, default=64, help="embedding size (default 64)")
    parser.add_argument("--epochs", type=int, default=None, help="passes over the training data (model default if omitted)")
    parser.add_argument("--optimizer", default="rowwise-adagrad",
                        help="sgd, adagrad, rowwise-adagrad or adam (default rowwise-adagrad)")
    parser.add_argument("--learning-rate", type=float, default=None, help="step size (model default if omitted)")
    parser.add_argument("--l2", type=float, default=None, help="L2 penalty (model default if omitted)")
    parser.add_argument("--negatives", default="uniform", help="uniform, unseen or popularity (default uniform)")
    parser.add_argument("--n-negatives", type=int, default=1, help="negatives per positive (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="training threads (default: all cores)")
    parser.add_argument("-k", type=int, default=10, help="cut of precision@k (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--out", default=None, help="save the trained model to this .npz file")
    parser.add_argument("--plot", default=None, help="save the per-epoch training curve to this PNG (needs the plot extra)")


def _command_fit(args: argparse.Namespace) -> int:
    import json

    from .metrics import evaluate
    from .models import MatrixFactorization

    args = _data_arguments(args)
    data = load_dataset(args)
    train = data.train if data.train is not None else data.interactions
    test = data.test
    options = {
        "dim": args.dim,
        "loss": args.loss,
        "optimizer": args.optimizer,
        "negatives": args.negatives,
        "n_negatives": args.n_negatives,
        "threads": args.threads,
        "seed": args.seed,
    }
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if args.l2 is not None:
        options["l2"] = args.l2
    if args.epochs is not None:
        options["epochs"] = args.epochs
    model = MatrixFactorization(**options)
    precision_key = f"precision@{args.k}"
    columns = ["epoch", "loss", "seconds"] + (["auc", precision_key] if test is not None else [])
    if not args.json:
        print(f"{data.name}: {train.n_users:,} users x {train.n_items:,} items, {len(train):,} training pairs"
              + (f", {len(test):,} test pairs" if test is not None else ""))
        print("  ".join(f"{name:>12}" for name in columns))

    def report(fitted, record):
        if test is not None:
            # AUC as the seed notebook defines it (training items count as negatives);
            # precision@k ranks only items the user has not trained on.
            record["auc"] = evaluate(fitted, test, metrics=("auc",))["auc"]
            record[precision_key] = evaluate(fitted, test, train=train, k=args.k, metrics=("precision",))[precision_key]
        if not args.json:
            cells = [f"{record['epoch']:>12d}"] + [f"{record[name]:>12.4f}" for name in columns[1:]]
            print("  ".join(cells), flush=True)

    if args.plot is not None:
        _check_plotting()
    model.fit(train, callbacks=[report], progress=False)
    if args.out is not None:
        if data.item_titles is not None:
            model.item_names_ = data.item_titles
        saved = model.save(args.out, metadata=_data_metadata(args))
        if not args.json:
            print(f"model saved to {saved}")
    if args.plot is not None:
        _plot_history(model.history_, args.plot, title=f"{data.name}, loss {args.loss}, dim {args.dim}")
        if not args.json:
            print(f"training curve saved to {args.plot}")
    total = sum(record["seconds"] for record in model.history_)
    last = model.history_[-1]
    if args.json:
        print(json.dumps({
            "dataset": data.name,
            "params": model.get_params(),
            "history": model.history_,
            "training_seconds": total,
        }, default=float))
    else:
        summary = f"trained {len(model.history_)} epochs in {total:.2f} s ({len(train) * len(model.history_) / max(total, 1e-9):,.0f} pairs/s)"
        if test is not None:
            summary += f"; test AUC {last['auc']:.4f}, {precision_key} {last[precision_key]:.4f}"
        print(summary)
    return 0


def _data_metadata(args: argparse.Namespace) -> dict:
    """What `evaluate` and `recommend` need to reload the training data."""
    keys = ("dataset", "split", "min_rating", "data_path", "users", "items", "interactions", "seed")
    return {key: getattr(args, key) for key in keys}


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


def _load_model(path: str):
    from .models import load

    return load(path)


def _model_data(args: argparse.Namespace, model) -> argparse.Namespace:
    """Data arguments: those given on the command line, else those the model was fitted on."""
    saved = getattr(model, "metadata_", None) or {}
    merged = argparse.Namespace(**vars(args))
    for key, value in saved.items():
        if getattr(merged, key, None) is None:
            setattr(merged, key, value)
    return merged


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
                raise UserError(f"{what} {value!r} names {len(matches)} items; give its id instead")
        raise UserError(f"{what} {value!r} is neither an id of the model" + (" nor an exact title" if names is not None else ""))
    return parsed


def _print_ranked(ids, scores, names, id_map, as_json: bool, header: str) -> None:
    import json

    import numpy as np

    rows = []
    for rank, (item, score) in enumerate(zip(ids.tolist(), scores.tolist()), start=1):
        if not np.isfinite(score):
            continue
        row = {"rank": rank, "item": item, "score": float(score)}
        if names is not None:
            row["title"] = str(names[id_map.to_index([item])[0]])
        rows.append(row)
    if as_json:
        print(json.dumps(rows))
        return
    print(header)
    for row in rows:
        title = f"  {row['title']}" if "title" in row else ""
        print(f"{row['rank']:>4}  {row['item']!s:>8}  {row['score']:>9.4f}{title}")


def _command_evaluate(args: argparse.Namespace) -> int:
    import json

    from .metrics import evaluate

    model = _load_model(args.model)
    data = load_dataset(_model_data(args, model))
    if data.test is None:
        raise UserError(f"{data.name} has no test part: give --split")
    train, test = data.train, data.test
    result = evaluate(model, test, train=train, k=args.k)
    seed_auc = evaluate(model, test, k=args.k, metrics=("auc",))["auc"]
    means = {"auc (train items as negatives)": seed_auc, **result.means}
    if args.json:
        print(json.dumps({"metrics": means, "users": int(len(result.users)), "skipped": int(result.n_skipped)}))
        return 0
    print(f"{data.name}: {len(result.users):,} test users ({result.n_skipped:,} without test positives skipped); train items excluded")
    for name, value in means.items():
        print(f"{name:>32}  {value:.4f}")
    return 0


def _command_recommend(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    exclude = None
    if not args.include_seen:
        data = load_dataset(_model_data(args, model))
        exclude = data.train if data.train is not None else data.interactions
    names = getattr(model, "item_names_", None)
    users = _parse_ids(args.user, model.user_ids_, "user")
    ids, scores = model.recommend(users, k=args.k, exclude=exclude)
    for position, user in enumerate(users):
        _print_ranked(ids[position], scores[position], names, model.item_ids_, args.json, f"top {args.k} for user {user}:")
    return 0


def _command_similar(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    names = getattr(model, "item_names_", None)
    items = _parse_ids(args.item, model.item_ids_, "item", names)
    ids, scores = model.similar_items(items, k=args.k)
    for position, item in enumerate(items):
        label = f"{item}" + (f" ({names[model.item_ids_.to_index([item])[0]]})" if names is not None else "")
        _print_ranked(ids[position], scores[position], names, model.item_ids_, args.json, f"{args.k} items most similar to {label}:")
    return 0


def _command_datasets(args: argparse.Namespace) -> int:
    from . import data as datasets

    for line in datasets.describe_sources():
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tripletrec",
        description="Recommendations from implicit feedback with triplet ranking losses.",
    )
    parser.add_argument("--version", action="version", version=f"tripletrec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    info = commands.add_parser("info", help="load a dataset and print its summary")
    _add_data_arguments(info)
    info.set_defaults(handler=_command_info)

    fit = commands.add_parser("fit", help="train a MatrixFactorization model and print per-epoch metrics")
    _add_data_arguments(fit)
    _training_arguments(fit)
    fit.set_defaults(handler=_command_fit)

    evaluation = commands.add_parser("evaluate", help="evaluate a saved model on a dataset's test part")
    evaluation.add_argument("model", help="model file written by fit --out")
    _add_data_arguments(evaluation)
    evaluation.add_argument("-k", type=int, default=10, help="cut of the @k metrics (default 10)")
    evaluation.add_argument("--json", action="store_true", help="print JSON")
    evaluation.set_defaults(handler=_command_evaluate)

    recommend = commands.add_parser("recommend", help="top-k items for users of a saved model")
    recommend.add_argument("model", help="model file written by fit --out")
    recommend.add_argument("--user", action="append", required=True, help="user id (repeat for several)")
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.add_argument("--include-seen", action="store_true", help="do not exclude the user's training items")
    _add_data_arguments(recommend)
    recommend.add_argument("--json", action="store_true", help="print JSON")
    recommend.set_defaults(handler=_command_recommend)

    similar = commands.add_parser("similar", help="items most similar to an item (id or exact title)")
    similar.add_argument("model", help="model file written by fit --out")
    similar.add_argument("--item", action="append", required=True, help="item id or exact title (repeat for several)")
    similar.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    similar.add_argument("--json", action="store_true", help="print JSON")
    similar.set_defaults(handler=_command_similar)

    listing = commands.add_parser("datasets", help="list dataset variants and where each is found")
    listing.set_defaults(handler=_command_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USER_ERROR
        return int(args.handler(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as error:
        # ValueError covers bad arguments and corrupt archives; FileNotFoundError a missing dataset.
        message = " ".join(line.strip() for line in str(error).splitlines()) or type(error).__name__
        if not message.startswith("tripletrec"):
            message = f"tripletrec: error: {message}"
        print(message, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("tripletrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
