"""Train a LeNet-style CNN written in pure NumPy (cnnlab.numpy) on scikit-learn's handwritten digits.

    python benchmarks/train_lenet_numpy.py                   # the course's recipe, seed 0
    python benchmarks/train_lenet_numpy.py --seeds 0 1 2 3   # how stable is it across seeds?
    python benchmarks/train_lenet_numpy.py --blas-threads 1 default   # 1 BLAS thread vs the default

Model (tests/numpy/test_training.py::test_lenet_reaches_97_percent trains the same one, seed 0):

    conv 3x3 (1 -> 32, padding 1) - ReLU - max pool 2    8x8 -> 4x4
    conv 3x3 (32 -> 64, padding 1) - ReLU - max pool 2   4x4 -> 2x2
    flatten (256) - linear 128 - ReLU - linear 10

SGD with momentum 0.9 and weight decay 2e-3, batch 32, 12 epochs, cosine annealing from lr 0.05 to 0.
Data: the fixed split of ``cnnlab.data.load_digits`` (train 1259 / val 179 / test 359, 8x8 images).

Prints one row per (BLAS threads, seed): test accuracy, validation accuracy, and the wall time of the
training alone (not of the imports or the data loading). Timings depend on the machine and on its load;
they are a measurement, not a promise. The matrices of this network are small: on a busy machine a
multi-threaded BLAS (OpenBLAS spins its threads) can be many times slower than one thread.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np

from cnnlab.data import load_digits
from cnnlab.numpy import SGD, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, evaluate, fit
from cnnlab.schedules import CosineAnnealing

RECIPE = dict(epochs=12, lr=0.05, batch_size=32, momentum=0.9, weight_decay=2e-3)


def lenet(seed: int = 0, c1: int = 32, c2: int = 64, hidden: int = 128) -> Sequential:
    """The LeNet-style CNN for 8x8 digits: conv-relu-pool-conv-relu-pool-flatten-linear-relu-linear."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Conv2d(1, c1, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
        Flatten(), Linear(c2 * 2 * 2, hidden, rng=rng), ReLU(), Linear(hidden, 10, rng=rng),
    ])


def train(seed: int = 0, epochs: int = RECIPE["epochs"], lr: float = RECIPE["lr"], progress: bool = False):
    """Train with the recipe; return (test accuracy, model, history, seconds of training)."""
    x_train, y_train = load_digits("train")
    x_val, y_val = load_digits("val")
    x_test, y_test = load_digits("test")
    model = lenet(seed)
    optimizer = SGD(model.parameters(), lr=lr, momentum=RECIPE["momentum"], weight_decay=RECIPE["weight_decay"])
    start = time.perf_counter()
    history = fit(model, optimizer, x_train, y_train, epochs=epochs, batch_size=RECIPE["batch_size"],
                  x_val=x_val, y_val=y_val, schedule=CosineAnnealing(lr, T_max=epochs), seed=seed,
                  progress=progress)
    seconds = time.perf_counter() - start
    _, test_acc = evaluate(model, x_test, y_test)
    return test_acc, model, history, seconds


def blas_threads(setting: str):
    """A context limiting BLAS to ``setting`` threads ("default": leave it alone)."""
    if setting == "default":
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    return threadpool_limits(limits=int(setting), user_api="blas")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--blas-threads", nargs="+", default=["1"],
                        help='BLAS thread counts to compare, e.g. "1 default" (default: 1)')
    parser.add_argument("--progress", action="store_true", help="show a progress bar per run")
    args = parser.parse_args(argv)

    load_digits("train")  # warm the cache: the first call parses scikit-learn's CSV
    print(f"LeNet-style CNN in NumPy, digits 8x8, {args.epochs} epochs, SGD momentum 0.9 + cosine annealing")
    print(f"{'BLAS threads':>12}  {'seed':>4}  {'test acc':>8}  {'val acc':>7}  {'train s':>7}")
    results = {}
    for setting in args.blas_threads:
        for seed in args.seeds:
            with blas_threads(setting):
                acc, _, history, seconds = train(seed, args.epochs, progress=args.progress)
            results.setdefault(setting, []).append((acc, seconds))
            print(f"{setting:>12}  {seed:>4}  {acc:>8.2%}  {history.val_acc[-1]:>7.2%}  {seconds:>7.1f}", flush=True)
    for setting, rows in results.items():
        accs, times = [a for a, _ in rows], [t for _, t in rows]
        print(f"BLAS threads {setting}: test accuracy min {min(accs):.2%} mean {np.mean(accs):.2%}; "
              f"mean training time {np.mean(times):.1f} s")
    if len(results) > 1:
        first, *others = results
        base = np.mean([t for _, t in results[first]])
        for setting in others:
            ratio = np.mean([t for _, t in results[setting]]) / base
            print(f"time ratio, BLAS threads {setting} / {first}: {ratio:.2f}")


if __name__ == "__main__":
    main()
