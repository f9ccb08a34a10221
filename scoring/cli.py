"""`carebot score ...`: train, evaluate, predict (and run the worker, from the service's CLI).

    carebot score train [--data setA.psv.gz] [--out scoring/model]
    carebot score evaluate [--data setA.psv.gz] [--model DIR] [--out var/reports/scoring]
    carebot score predict --psv FILE --out FILE.csv [--model DIR]

Bad input (a file not in the challenge's format, a model this code must not use) raises;
the console script (`integrations.command_exit.run_command`) prints it as one line on
stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

DEFAULT_DATA = Path("../shared/corpora/physionet2019/setA.psv.gz")
DEFAULT_REPORTS = Path("var/reports/scoring")


class ScoringInputError(ValueError):
    """Input `carebot score` cannot use (the message says which and why)."""


def cmd_train(args: argparse.Namespace) -> int:
    """Train on the challenge's rows and save the model with its manifest."""
    from scoring.model import save_model
    from scoring.physionet import read_challenge_psv, sha256_of
    from scoring.training import TrainingConfig, train

    data = read_challenge_psv(args.data)
    if data.label is None:
        raise ScoringInputError(f"{args.data}: no SepsisLabel column to train on")
    config = TrainingConfig(
        seed=args.seed, negative_fraction=args.negative_fraction, max_iter=args.max_iter
    )
    model = train(data, sha256_of(args.data), config)
    path = save_model(model, args.out)
    metrics = model.manifest.metrics
    print(
        f"saved {path} (test AUROC {metrics['test_auroc']:.3f}, "
        f"calibration slope {metrics['test_calibration_slope']:.3f}, "
        f"threshold {model.manifest.threshold:.4f})"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Write the evaluation report of the model on its held-out patients."""
    from scoring.evaluation import write_report
    from scoring.model import load_model
    from scoring.physionet import read_challenge_psv

    model = load_model(args.model)
    data = read_challenge_psv(args.data)
    if data.label is None:
        raise ScoringInputError(f"{args.data}: no SepsisLabel column to evaluate against")
    result = write_report(model, data, args.out, replicates=args.replicates)
    print(f"report in {args.out}")
    print(f"model AUROC {result.model_auroc.text()}; NEWS2 AUROC {result.news2_auroc.text()}")
    print(f"difference {result.auroc_difference.text()}")
    print(f"model calibration slope {result.model_calibration_slope.text()}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Write patient,ICULOS,probability,news2 for every row of a challenge-format file."""
    from scoring.challenge_news2 import news2_of_rows
    from scoring.model import load_model
    from scoring.physionet import read_challenge_psv
    from scoring.score import probabilities
    from scoring.stay_features import stay_features

    model = load_model(args.model)
    data = read_challenge_psv(args.psv)
    p = probabilities(model, stay_features(data.rows))
    news2 = news2_of_rows(data)
    try:
        with args.out.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["patient", "ICULOS", "probability", "news2"])
            for i, patient in enumerate(data.patients):
                writer.writerow([patient, int(data.iculos[i]), f"{p[i]:.6f}", int(news2[i])])
    except OSError as error:
        raise ScoringInputError(f"{args.out}: cannot write ({error.strerror})") from error
    print(f"{len(data.patients)} rows written to {args.out}")
    return 0


def configure(
    score: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add train, evaluate and predict under SCORE; the subparsers, for more commands."""
    from scoring.model import SHIPPED_DIR
    from scoring.training import DEFAULT_SEED

    sub = score.add_subparsers(dest="score_command", required=True)
    train = sub.add_parser("train", help="train the deterioration model on set A")
    train.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="PhysioNet 2019 set A (.psv.gz)"
    )
    train.add_argument(
        "--out", type=Path, default=SHIPPED_DIR, help="folder the model and manifest go to"
    )
    train.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (split, sampling, model)"
    )
    train.add_argument(
        "--negative-fraction",
        type=float,
        default=0.5,
        help="share of never-septic training patients kept",
    )
    train.add_argument("--max-iter", type=int, default=300, help="boosting iterations at most")
    train.set_defaults(func=cmd_train)
    evaluate = sub.add_parser("evaluate", help="report on held-out set-A patients")
    evaluate.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="PhysioNet 2019 set A (.psv.gz)"
    )
    evaluate.add_argument(
        "--model", type=Path, default=SHIPPED_DIR, help="folder of the model to evaluate"
    )
    evaluate.add_argument(
        "--out", type=Path, default=DEFAULT_REPORTS, help="folder the report goes to"
    )
    evaluate.add_argument(
        "--replicates", type=int, default=200, help="bootstrap replicates for the intervals"
    )
    evaluate.set_defaults(func=cmd_evaluate)
    predict = sub.add_parser("predict", help="probability and NEWS2 for each row of a PSV file")
    predict.add_argument("--psv", type=Path, required=True, help="input in the challenge's layout")
    predict.add_argument(
        "--out", type=Path, required=True, help="CSV: patient,ICULOS,probability,news2"
    )
    predict.add_argument(
        "--model", type=Path, default=SHIPPED_DIR, help="folder of the model to use"
    )
    predict.set_defaults(func=cmd_predict)
    return sub
