"""How fast is the NumPy reference? Each op, forward + backward, against torch on the CPU.

    python benchmarks/ops_vs_torch.py              # median of 30 runs per op
    python benchmarks/ops_vs_torch.py --repeat 100

Shapes are those of the course's networks (a batch of 64 digit-sized images). Both sides run in
this one process, one after the other, on float32, so the ratio numpy/torch is measured under the
same load; the course's target is a ratio of at most 1.5. Timings are a measurement, not a promise.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

import cnnlab.numpy as cn


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up: first calls allocate
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def case(name, numpy_op, numpy_backward, torch_op, inputs, **kwargs):
    """One row: ``numpy_op(*inputs, **kwargs)`` and its backward vs torch autograd of ``torch_op``."""
    out = numpy_op(*inputs, **kwargs)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)

    def run_numpy():
        numpy_op(*inputs, **kwargs)
        numpy_backward(grad, *inputs, **kwargs)

    tensors = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    grad_t = torch.tensor(grad)

    def run_torch():
        for t in tensors:
            t.grad = None
        torch_op(*tensors, **kwargs).backward(grad_t)

    return name, run_numpy, run_torch


def cases(rng):
    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x = arr(64, 1, 28, 28)
    h = arr(64, 16, 14, 14)
    labels = rng.integers(0, 10, 64)
    return [
        case("conv2d 64x1x28x28 -> 16, 3x3, pad 1", cn.conv2d, cn.conv2d_backward, F.conv2d,
             [x, arr(16, 1, 3, 3), arr(16)], padding=1),
        case("conv2d 64x16x14x14 -> 32, 3x3, pad 1", cn.conv2d, cn.conv2d_backward, F.conv2d,
             [h, arr(32, 16, 3, 3), arr(32)], padding=1),
        case("conv_transpose2d 64x16x14x14 -> 8, 4x4, stride 2", cn.conv_transpose2d, cn.conv_transpose2d_backward,
             F.conv_transpose2d, [h, arr(16, 8, 4, 4)], stride=2, padding=1),
        case("max_pool2d 64x16x28x28, 2x2", cn.max_pool2d, cn.max_pool2d_backward, F.max_pool2d,
             [arr(64, 16, 28, 28)], kernel_size=2),
        case("avg_pool2d 64x16x28x28, 2x2", cn.avg_pool2d, cn.avg_pool2d_backward, F.avg_pool2d,
             [arr(64, 16, 28, 28)], kernel_size=2),
        case("interpolate bilinear 64x16x14x14 x2", cn.interpolate, cn.interpolate_backward, F.interpolate,
             [h], scale_factor=2, mode="bilinear"),
        case("linear 64x3136 -> 128", cn.linear, cn.linear_backward, F.linear,
             [arr(64, 3136), arr(128, 3136), arr(128)]),
        case("relu 64x16x28x28", cn.relu, cn.relu_backward, F.relu, [arr(64, 16, 28, 28)]),
        case("cross_entropy 64x10", cn.cross_entropy, cn.cross_entropy_backward, F.cross_entropy,
             [arr(64, 10), labels]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), median of {args.repeat}")
    print(f"{'op (forward + backward)':52s} {'numpy ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    worst = 0.0
    for name, run_numpy, run_torch in cases(rng):
        a, b = median_ms(run_numpy, args.repeat), median_ms(run_torch, args.repeat)
        worst = max(worst, a / b)
        print(f"{name:52s} {a:9.2f} {b:9.2f} {a / b:6.2f}")
    print(f"worst ratio {worst:.2f} (target: at most 1.5)")


if __name__ == "__main__":
    main()
