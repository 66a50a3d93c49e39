"""How fast does cnnlab train, next to plain torch on the CPU? The benchmark of issue 15.

    python benchmarks/speed.py              # the full table: median of 21 per op, 5 epochs per contender
    python benchmarks/speed.py --quick      # a small version (about 10 s; the book runs it)
    python benchmarks/speed.py --reps 41 --epoch-reps 9
    python benchmarks/speed.py --cuda       # on a CUDA GPU: cnnlab.torch against torch there (conv2d at batch
                                            # 256, a few other ops, the epoch at batch 64 and 256)

Every figure comes from this one run. Ops, forward + backward, float32, each against torch
(``torch.nn.functional`` + autograd):

    cnnlab.numpy    the path training takes: cnnlab.numpy's layer (Conv2d, ConvTranspose2d, MaxPool2d, ReLU)
                    forward then backward, which call ``cnnlab.numpy.fast`` (compiled loops if numba is
                    there); for cross_entropy the loss ``cnnlab.numpy.fit`` computes (``fast.cross_entropy``)
    cnnlab.torch    the torch twin on the CPU (hand-written backwards)
    no numba        cnnlab.numpy with numba switched off (``fast.USE_NUMBA = False``); shown only with numba
    reference       cnnlab.numpy's public op and its stateless ``*_backward`` (the clear version a student reads)

Then one training epoch of the LeNet-style net of ``benchmarks/train_lenet_numpy.py`` on the 28x28
digits (batch 64, SGD with momentum, the steps of ``cnnlab.numpy.fit``) with cnnlab.numpy's layers (with
and without numba), with cnnlab.torch and with plain torch.nn; and the peak memory growth (tracemalloc)
of two NumPy epochs.

From a notebook: ``speed.main(["--quick"])`` (``--no-epoch``: only the ops); it prints markdown to stdout
only. The first run on a machine compiles numba's loops (seconds; cached in ``__pycache__`` afterwards,
``scripts/setup.sh`` does it at install) and says so.

How it measures: the contenders' repetitions alternate (A, B, C, A, B, C, ...); before each sample it
waits until no other thread of this process is running (torch's OpenMP and BLAS threads spin for a
while after their work; the wait reads each thread's state in /proc/self/task), so no contender pays for
another's threads; then the contender runs twice untimed (an idle virtual CPU takes milliseconds to wake
up: see ``alternate``) and once timed. It prints the medians, the BLAS kernel, the thread counts and the load, and warns when
other processes used the CPUs during a section. Timings depend on the machine and its load: a measurement,
not a promise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import cnnlab._memory as memory
import cnnlab.numpy as cn
import cnnlab.torch as ct
from cnnlab.data import load_digits
from cnnlab.numpy import fast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_lenet_numpy import RECIPE  # noqa: E402  (the course's SGD recipe: momentum, weight decay)

HZ = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------------------------------
# the machine: settling threads, busy sections, the configuration
# ----------------------------------------------------------------------------------------------------------------

def _running_threads() -> int:
    """How many threads of this process, other than the calling one, are running (state R) now."""
    me, running = threading.get_native_id(), 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        running += stat[stat.rfind(")") + 2] == "R"
    return running


class Settler:
    """Before each sample: sleep ``pause`` s, then wait (at most ``limit`` s) until no other thread runs."""

    def __init__(self, pause=0.002, limit=0.2):
        self.pause, self.limit, self.waits, self.timeouts = pause, limit, [], 0

    def __call__(self):
        start = time.perf_counter()
        time.sleep(self.pause)
        while _running_threads():
            if time.perf_counter() - start > self.limit:
                self.timeouts += 1
                break
            time.sleep(0.0005)
        self.waits.append(time.perf_counter() - start)


def _cpu_jiffies():
    """(busy, steal) jiffies of the whole machine from /proc/stat (busy excludes idle, iowait and steal)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return user + nice + system + irq + softirq, steal


class Section:
    """Watches a section: the CPU time other processes took (and steal) as a share of all CPUs, and the load."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.wall, self.ours, self.jiffies = time.perf_counter(), sum(os.times()[:2]), _cpu_jiffies()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        ours = sum(os.times()[:2]) - self.ours
        busy, steal = (b - a for a, b in zip(self.jiffies, _cpu_jiffies()))
        capacity = wall * os.cpu_count()
        self.others = max(0.0, busy / HZ - ours) / capacity
        self.steal = steal / HZ / capacity
        load = os.getloadavg()[0]
        note = f"[{self.name}: {wall:.1f} s; other processes used {self.others:.0%} of the CPUs, steal " \
               f"{self.steal:.0%}, load {load:.2f}]"
        if self.others > 0.10 or self.steal > 0.05:  # (the load average counts this process too, and lags)
            note += "\nWARNING: the machine was busy during this section; its figures are not a quiet machine's."
        print(note, flush=True)


def configuration() -> str:
    """numpy / torch / numba versions, the BLAS kernel, the thread counts and the load."""
    lines = [f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
             f"{os.cpu_count()} CPUs, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(f"  {pool['user_api']}: {pool['internal_api']} {pool.get('version')} "
                         f"({pool.get('architecture', '?')}), {pool['num_threads']} threads, "
                         f"{Path(pool['filepath']).name}")
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"  numpy BLAS: {blas.get('name')} {blas.get('version')}")
    lines.append(f"  torch: {torch.get_num_threads()} intra-op threads, {torch.get_num_interop_threads()} inter-op; "
                 f"mkldnn {torch.backends.mkldnn.is_available()}")
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "NUMBA_NUM_THREADS") if k in os.environ}
    lines.append(f"  thread settings in the environment: {env or 'none'}")
    if torch.cuda.is_available():
        lines.append(f"  CUDA: {torch.cuda.get_device_name()} (its rows: --cuda)")
    else:
        lines.append("  CUDA: no GPU here (on a machine with one, speed.py --cuda times cnnlab.torch there)")
    compiled = fast.compile_kernels()  # numba's first call per dtype compiles or loads the cache: not timed below
    if compiled["numba"]:
        import numba

        how = (f"compiled now ({compiled['compiled']} loop versions, {compiled['seconds']:.1f} s: not cached yet; "
               f"later runs load them)" if compiled["compiled"] else
               f"loaded from numba's cache ({compiled['seconds']:.1f} s)")
        lines.append(f"  numba {numba.__version__}: cnnlab.numpy.fast's compiled loops, {how}")
    else:
        lines.append("  numba: not installed, cnnlab.numpy.fast runs its NumPy path")
    threads = fast.thread_count()
    lines.append(f"  cnnlab.numpy.fast: each op in pieces on {threads} thread{'s' * (threads > 1)}, BLAS on one thread "
                 f"meanwhile")
    # For the whole process, as both backends' first op does (cnnlab/_memory.py): every contender runs with it
    kept = "keeps freed blocks for reuse" if memory.keep_freed_memory() else "not glibc: its defaults"
    lines.append(f"  malloc, for every contender: {kept} (cnnlab/_memory.py)")
    return "\n".join(lines)


def limit_threads(n: int) -> None:
    """At most ``n`` threads for torch and the BLAS (threadpoolctl). On a busy machine torch's OpenMP
    barrier waits for a descheduled thread: one thread each gives figures that still mean something."""
    global _blas_limit
    torch.set_num_threads(n)
    from threadpoolctl import threadpool_limits

    _blas_limit = threadpool_limits(limits=n)  # kept: the limit holds while the object lives


# ----------------------------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------------------------

def alternate(contenders: dict, reps: int, settle: Settler, warm_calls: int = 2) -> dict:
    """Median seconds of each ``name: fn()``, their repetitions alternated (one warm-up call each first).

    Before each timed call: ``settle`` (the other contenders' threads go idle), then ``warm_calls`` untimed
    calls of the contender's ``fn.warm`` (a short piece of the same work; ``fn`` itself by default). Why: on a
    virtual machine a CPU left idle takes milliseconds to wake up. Measured here, torch's conv2d forward +
    backward of 0.66 ms back to back took 26 ms after 0.3 s idle, 1.1 ms after one warm call, 0.66 ms after
    two; a training loop, running its ops back to back, never pays that.
    """
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            settle()
            for _ in range(warm_calls):
                getattr(fn, "warm", fn)()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def with_numba(flag: bool, fn):
    """``fn`` run with ``fast.USE_NUMBA`` set to ``flag`` (and put back)."""
    def run(*args):
        saved, fast.USE_NUMBA = fast.USE_NUMBA, flag
        try:
            return fn(*args)
        finally:
            fast.USE_NUMBA = saved
    if hasattr(fn, "warm"):
        run.warm = with_numba(flag, fn.warm)
    return run


# ----------------------------------------------------------------------------------------------------------------
# the ops of the table
# ----------------------------------------------------------------------------------------------------------------

def torch_contender(op, arrays, kwargs, grad, device="cpu"):
    """Forward + backward of ``op`` (torch's or cnnlab.torch's) on ``device`` copies of ``arrays`` (the float
    ones need a gradient), the output's gradient ``grad``; on cuda each call waits for the GPU (synchronize)."""
    tensors = [torch.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    grad_t = torch.tensor(grad, device=device)

    def run():
        for t in tensors:
            t.grad = None
        op(*tensors, **kwargs).backward(grad_t)
        if grad_t.is_cuda:
            torch.cuda.synchronize()
    return run


def op_case(arrays, kwargs, ref, ref_backward, numpy_run, torch_op, cnnlab_torch_op, no_numba=True):
    """The contenders of one op: forward + backward of each, on the same float32 inputs and output gradient.
    ``numpy_run(grad)`` returns the cnnlab.numpy contender (the layer's forward and backward); ``no_numba``:
    the same with numba switched off too (when numba is there)."""
    out = ref(*arrays, **kwargs)
    grad = np.random.default_rng(1).standard_normal(np.shape(out)).astype(np.float32)
    grad_arg = 1.0 if np.ndim(out) == 0 else grad

    def run_ref():
        ref(*arrays, **kwargs)
        ref_backward(grad_arg, *arrays, **kwargs)

    contenders = {"torch": torch_contender(torch_op, arrays, kwargs, grad), "cnnlab.numpy": numpy_run(grad_arg),
                  "cnnlab.torch": torch_contender(cnnlab_torch_op, arrays, kwargs, grad)}
    if no_numba and fast.numba_kernels():
        contenders["no numba"] = with_numba(False, contenders["cnnlab.numpy"])
    contenders["reference"] = run_ref
    return contenders


def layer_run(layer, x):
    """``numpy_run`` of a cnnlab.numpy layer: forward then backward, its gradients zeroed first (as torch's)."""
    def numpy_run(grad):
        def run():
            layer.zero_grad()
            layer(x)
            layer.backward(grad)
        return run
    return numpy_run


def conv_layer(cls, w, b, **kwargs):
    """A cnnlab.numpy Conv2d or ConvTranspose2d holding the weights ``w`` and ``b``."""
    c_in, c_out = (w.shape[1], w.shape[0]) if cls is cn.Conv2d else (w.shape[0], w.shape[1])
    layer = cls(c_in, c_out, w.shape[2:], **kwargs)
    layer.weight.data, layer.bias.data = w, b
    return layer


def loss_run(logits, target):
    """``numpy_run`` of the loss as ``cnnlab.numpy.fit`` computes it."""
    def numpy_run(grad):
        def run():
            loss, cache = fast.cross_entropy(logits, target)
            fast.cross_entropy_backward(grad, cache)
        return run
    return numpy_run


def op_cases(rng, quick: bool):
    """(name, contenders) for every op of issue 15's table (``quick``: smaller batches, no "no numba")."""
    b = 16 if quick else 64  # the batch
    no_numba = not quick

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def conv(x, c_out, k, **kw):
        w, bias = arr(c_out, x.shape[1], k, k), arr(c_out)
        return op_case([x, w, bias], kw, cn.conv2d, cn.conv2d_backward,
                       layer_run(conv_layer(cn.Conv2d, w, bias, **kw), x), F.conv2d, ct.conv2d, no_numba)

    def pool(x, **kw):
        return op_case([x], kw, cn.max_pool2d, cn.max_pool2d_backward, layer_run(cn.MaxPool2d(**kw), x),
                       F.max_pool2d, ct.max_pool2d, no_numba)

    x28 = np.maximum(arr(b, 16, 28, 28), 0)  # pooling follows a ReLU: many ties at 0
    h14, w16, b8 = arr(b, 16, 14, 14), arr(16, 8, 4, 4), arr(8)
    logits, labels = arr(b, 10), rng.integers(0, 10, b)
    x_relu = arr(b, 16, 28, 28)
    return [
        (f"max_pool2d 3x3 stride 2, {b}x16x28x28", pool(x28, kernel_size=3, stride=2)),
        (f"max_pool2d 2x2, {b}x16x28x28", pool(x28, kernel_size=2)),
        (f"conv2d {2 * b}x16x7x7 -> 32, 3x3 pad 1", conv(arr(2 * b, 16, 7, 7), 32, 3, padding=1)),
        (f"conv2d {b}x8x14x14 -> 16, 3x3 pad 1", conv(arr(b, 8, 14, 14), 16, 3, padding=1)),
        (f"conv2d {b}x32x14x14 -> 64, 3x3 pad 1", conv(arr(b, 32, 14, 14), 64, 3, padding=1)),
        (f"conv_transpose2d {b}x16x14x14 -> 8, 4x4 s2 p1",
         op_case([h14, w16, b8], dict(stride=2, padding=1), cn.conv_transpose2d, cn.conv_transpose2d_backward,
                 layer_run(conv_layer(cn.ConvTranspose2d, w16, b8, stride=2, padding=1), h14),
                 F.conv_transpose2d, ct.conv_transpose2d, no_numba)),
        (f"conv2d {b // 2}x3x64x64 -> 16, 3x3 s2 p1", conv(arr(b // 2, 3, 64, 64), 16, 3, stride=2, padding=1)),
        (f"cross_entropy {b}x10", op_case([logits, labels], {}, cn.cross_entropy, cn.cross_entropy_backward,
                                          loss_run(logits, labels), F.cross_entropy, ct.cross_entropy, no_numba)),
        (f"relu {b}x16x28x28", op_case([x_relu], {}, cn.relu, cn.relu_backward, layer_run(cn.ReLU(), x_relu),
                                       F.relu, ct.relu, no_numba)),
    ]


def print_ratios(rows, names):
    """A markdown table: torch's ms, then each contender's time / torch's."""
    header = ["what (forward + backward)", "torch ms"] + [f"{n} / torch" for n in names]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for what, medians in rows:
        cells = [what, f"{1e3 * medians['torch']:.2f}"]
        cells += [f"{medians[n] / medians['torch']:.2f}" if n in medians else "" for n in names]
        print("| " + " | ".join(cells) + " |", flush=True)


# ----------------------------------------------------------------------------------------------------------------
# one training epoch
# ----------------------------------------------------------------------------------------------------------------

def lenet_layers(nn, **kw):
    """The net of benchmarks/train_lenet_numpy.py for 28x28 inputs (its linear layer sees 64 x 7 x 7)."""
    return [nn.Conv2d(1, 32, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128, **kw), nn.ReLU(), nn.Linear(128, 10, **kw)]


def numpy_epoch(model, optimizer, x, y, batch):
    """One epoch of minibatch SGD with a cnnlab.numpy model (the steps of ``cnnlab.numpy.fit``)."""
    def run(images=len(x)):
        for start in range(0, images, batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            out = model(xb)
            loss, cache = fast.cross_entropy(out, yb)  # fit's loss
            optimizer.zero_grad()
            model.backward(fast.cross_entropy_backward(1.0, cache), input_grad=False)  # as fit: no image gradient
            optimizer.step()
    run.warm = lambda: run(batch)  # one step (see ``alternate``)
    return run


def torch_epoch(model, x, y, batch, loss, device="cpu"):
    """One epoch of a torch model (torch.nn or cnnlab.torch.nn) with torch.optim.SGD, on ``device`` (the data
    moved there first; on cuda the epoch ends with a synchronize, so its time is the GPU's work)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"],
                                weight_decay=RECIPE["weight_decay"])
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def run(images=len(x)):
        for start in range(0, images, batch):
            optimizer.zero_grad()
            loss(model(x[start:start + batch]), y[start:start + batch]).backward()
            optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
    run.warm = lambda: run(batch)  # one step (see ``alternate``)
    return run


def epoch_contenders(x, y, batch=64, no_numba=True):
    model = cn.Sequential(lenet_layers(cn, rng=0))
    optimizer = cn.SGD(model.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"],
                       weight_decay=RECIPE["weight_decay"])
    contenders = {
        "torch.nn": torch_epoch(torch.nn.Sequential(*lenet_layers(torch.nn)), x, y, batch, F.cross_entropy),
        "cnnlab.numpy": numpy_epoch(model, optimizer, x, y, batch),
    }
    if no_numba and fast.numba_kernels():
        contenders["cnnlab.numpy, no numba"] = with_numba(False, contenders["cnnlab.numpy"])
    contenders["cnnlab.torch"] = torch_epoch(ct.nn.Sequential(*lenet_layers(ct.nn, rng=0, device="cpu")), x, y,
                                             batch, ct.cross_entropy)
    return contenders


def peak_memory_mib(run, epochs=2) -> float:
    """Peak growth of the memory NumPy and Python allocate (tracemalloc) during ``epochs`` runs of ``run``."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    for _ in range(epochs):
        run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


# ----------------------------------------------------------------------------------------------------------------
# on a CUDA GPU: cnnlab.torch against torch
# ----------------------------------------------------------------------------------------------------------------

def gpu_section(reps: int, epoch_reps: int, settle: Settler) -> None:
    """Issue 15's GPU rows: conv2d forward + backward at batch 256 and the training epoch, cnnlab.torch on
    cuda against torch on cuda (cuDNN), float32. Each sample waits for the GPU to finish (synchronize)."""
    print(f"\nCUDA: {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, "
          f"torch {torch.__version__}; median of {reps} alternated repetitions, forward + backward\n")
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    cases = [
        ("conv2d 256x32x14x14 -> 64, 3x3 pad 1", F.conv2d, ct.conv2d,
         [arr(256, 32, 14, 14), arr(64, 32, 3, 3), arr(64)], dict(padding=1)),
        ("conv2d 256x1x28x28 -> 32, 3x3 pad 1", F.conv2d, ct.conv2d,
         [arr(256, 1, 28, 28), arr(32, 1, 3, 3), arr(32)], dict(padding=1)),
        ("conv2d 256x3x64x64 -> 16, 3x3 s2 p1", F.conv2d, ct.conv2d,
         [arr(256, 3, 64, 64), arr(16, 3, 3, 3), arr(16)], dict(stride=2, padding=1)),
        ("conv_transpose2d 256x16x14x14 -> 8, 4x4 s2 p1", F.conv_transpose2d, ct.conv_transpose2d,
         [arr(256, 16, 14, 14), arr(16, 8, 4, 4), arr(8)], dict(stride=2, padding=1)),
        ("max_pool2d 2x2, 256x32x28x28", F.max_pool2d, ct.max_pool2d, [arr(256, 32, 28, 28)], dict(kernel_size=2)),
        ("relu 256x32x28x28", F.relu, ct.relu, [arr(256, 32, 28, 28)], {}),
    ]
    rows = []
    with Section("cuda ops"):
        for what, torch_op, ours, arrays, kwargs in cases:
            out = torch_op(*(torch.tensor(a, device="cuda") for a in arrays), **kwargs)
            grad = rng.standard_normal(tuple(out.shape)).astype(np.float32)  # the same for both contenders
            rows.append((what, alternate({"torch": torch_contender(torch_op, arrays, kwargs, grad, "cuda"),
                                          "cnnlab.torch": torch_contender(ours, arrays, kwargs, grad, "cuda")},
                                         reps, settle)))
    print_ratios(rows, ["cnnlab.torch"])

    x, y = load_digits("train", size=28)
    for batch in (64, 256):
        contenders = {
            "torch.nn": torch_epoch(torch.nn.Sequential(*lenet_layers(torch.nn)).cuda(), x, y, batch,
                                    F.cross_entropy, "cuda"),
            "cnnlab.torch": torch_epoch(ct.nn.Sequential(*lenet_layers(ct.nn, rng=0, device="cuda")), x, y, batch,
                                        ct.cross_entropy, "cuda")}
        print(f"\none training epoch on cuda, LeNet-style net, {len(x)} digits 28x28, batch {batch}; median of "
              f"{epoch_reps} alternated epochs\n")
        with Section(f"cuda epochs, batch {batch}"):
            medians = alternate(contenders, epoch_reps, settle)
        print("| contender | s per epoch | / torch.nn |")
        print("|---|---|---|")
        for name, seconds in medians.items():
            print(f"| {name} | {seconds:.4f} | {seconds / medians['torch.nn']:.2f} |")


# ----------------------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=21, help="repetitions per op and contender (median)")
    parser.add_argument("--epoch-reps", type=int, default=5, help="epochs per contender (median)")
    parser.add_argument("--quick", action="store_true",
                        help="small: batch 16 ops, 5 repetitions, a 256-image epoch, 3 epochs each; "
                             "without the no-numba contenders")
    parser.add_argument("--no-epoch", action="store_true", help="only the ops")
    parser.add_argument("--cuda", action="store_true",
                        help="only the GPU rows: cnnlab.torch on cuda against torch on cuda (needs a CUDA GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit torch, BLAS and numba to this many threads (default: leave them alone)")
    args = parser.parse_args(argv)
    if args.threads:
        limit_threads(args.threads)
    reps, epoch_reps = (5, 3) if args.quick else (args.reps, args.epoch_reps)
    settle = Settler()
    start = time.perf_counter()

    print(configuration(), flush=True)
    if args.cuda:
        if not torch.cuda.is_available():
            sys.exit("speed.py --cuda: no CUDA GPU on this machine (torch.cuda.is_available() is False)")
        gpu_section(reps, epoch_reps, settle)
        return

    cases = op_cases(np.random.default_rng(0), args.quick)
    names = [n for n in cases[0][1] if n != "torch"]
    print(f"\nops, float32, median of {reps} alternated repetitions; ratio = contender / torch (target <= 1.5)\n")
    rows = []
    with Section("ops"):
        for what, contenders in cases:
            rows.append((what, alternate(contenders, reps, settle)))
    print_ratios(rows, names)

    if not args.no_epoch:
        x, y = load_digits("train", size=28)
        if args.quick:
            x, y = x[:256], y[:256]
        contenders = epoch_contenders(x, y, no_numba=not args.quick)
        print(f"\none training epoch, LeNet-style net, {len(x)} digits 28x28, batch 64, SGD momentum "
              f"{RECIPE['momentum']}; median of {epoch_reps} alternated epochs\n")
        with Section("epochs"):
            medians = alternate(contenders, epoch_reps, settle)
        print("| contender | s per epoch | / torch.nn |")
        print("|---|---|---|")
        for name, seconds in medians.items():
            print(f"| {name} | {seconds:.3f} | {seconds / medians['torch.nn']:.2f} |")
        print(f"\npeak memory growth during two cnnlab.numpy epochs (tracemalloc): "
              f"{peak_memory_mib(contenders['cnnlab.numpy']):.1f} MiB")

    waits = np.array(settle.waits) * 1e3
    print(f"\nsettling before each sample: median {np.median(waits):.1f} ms, max {waits.max():.1f} ms, "
          f"{settle.timeouts} of {len(waits)} gave up after {1e3 * settle.limit:.0f} ms; "
          f"whole run {time.perf_counter() - start:.1f} s")


def capture(argv) -> str:
    """What ``main(argv)`` prints, as a string (the book's chapter 5 runs ``capture(["--quick"])``)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue()


if __name__ == "__main__":
    main()
