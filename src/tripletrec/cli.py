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


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default="ml-100k",
        help="ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-latest-small or synthetic (default ml-100k)",
    )
    parser.add_argument("--split", default=None, help="official split, e.g. ua, ub, u1..u5 for ml-100k")
    parser.add_argument("--min-rating", type=float, default=None, help="keep ratings >= this as positives")
    parser.add_argument("--data-path", default=None, help="archive or folder to read instead of searching")
    parser.add_argument("--no-download", action="store_true", help="never download; fail if not found")
    parser.add_argument("--users", type=int, default=5000, help="synthetic: number of users")
    parser.add_argument("--items", type=int, default=2000, help="synthetic: number of items")
    parser.add_argument("--interactions", type=int, default=100_000, help="synthetic: number of interactions")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def load_dataset(args: argparse.Namespace):
    """The Dataset named by the common data arguments."""
    from . import datasets

    if args.dataset == "synthetic":
        from .split import leave_k_out

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
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training data (default 20)")
    parser.add_argument("--optimizer", default="adagrad", help="sgd, adagrad or adam (default adagrad)")
    parser.add_argument("--learning-rate", type=float, default=None, help="step size (model default if omitted)")
    parser.add_argument("--l2", type=float, default=None, help="L2 penalty (model default if omitted)")
    parser.add_argument("--negatives", default="uniform", help="uniform, unseen or popularity (default uniform)")
    parser.add_argument("--n-negatives", type=int, default=1, help="negatives per positive (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="training threads (default: all cores)")
    parser.add_argument("-k", type=int, default=10, help="cut of precision@k (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")


def _command_fit(args: argparse.Namespace) -> int:
    import json

    from .metrics import evaluate
    from .models import MatrixFactorization

    data = load_dataset(args)
    train = data.train if data.train is not None else data.interactions
    test = data.test
    options = {
        "dim": args.dim,
        "loss": args.loss,
        "optimizer": args.optimizer,
        "negatives": args.negatives,
        "n_negatives": args.n_negatives,
        "epochs": args.epochs,
        "threads": args.threads,
        "seed": args.seed,
    }
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if args.l2 is not None:
        options["l2"] = args.l2
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

    model.fit(train, callbacks=[report], progress=False)
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


def _command_datasets(args: argparse.Namespace) -> int:
    from . import datasets

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
