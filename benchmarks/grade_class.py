"""Grade a generated class of submissions for every lab and print the seconds per submission.

    python benchmarks/grade_class.py                          # every lab, 40 submissions each, all CPUs
    python benchmarks/grade_class.py --lab lab2_conv_pool -n 200 -j 1

The class is seeded and varied. For every lab: correct notebooks (the reference solution), one
function replaced by a wrong one, blank notebooks, a syntax error, a missing import, an infinite
loop in a cell or in a function, invalid JSON. Lab 2 (conv and pooling) adds its classic mistakes:
a flipped kernel, no padding, no bias, stride ignored, sum instead of mean, an off-by-one output
size, and vectorised solutions with sliding windows. Everything runs through
``cnnlab.grading.grade.grade_class`` exactly as ``cnnlab-grade grade`` would.
"""

from __future__ import annotations

import argparse
import copy
import random
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from cnnlab.grading import notebook
from cnnlab.grading.authoring import read_source, student_notebook
from cnnlab.grading.grade import default_jobs, grade_class
from cnnlab.grading.labs import LABS

ROOT = Path(__file__).resolve().parents[1]
CONV_POOL = "lab2_conv_pool"  # the lab with a catalogue of classic mistakes below


def source_path(lab_id: str) -> Path:
    return ROOT / "labs" / "source" / f"{lab_id}.ipynb"


VECTORISED = {
    "conv2d_single": '''
def conv2d_single(x, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel.shape)
    return np.einsum("ijuv,uv->ij", windows, kernel)
''',
    "max_pool2d": '''
def max_pool2d(x, kernel_size, stride=None):
    s = stride or kernel_size
    w = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return w[:, :, ::s, ::s].max(axis=(-2, -1))
''',
}

MISTAKES = {
    "flipped_kernel": ("conv2d_single", '''
def conv2d_single(x, kernel):
    k = kernel[::-1, ::-1]
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return out
'''),
    "off_by_one": ("conv2d_single", '''
def conv2d_single(x, kernel):
    kh, kw = kernel.shape
    out = np.zeros((x.shape[0] - kh, x.shape[1] - kw))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * kernel)
    return out
'''),
    "no_padding": ("conv2d", '''
def conv2d(x, weight, bias=None, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(win, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out
'''),
    "no_bias": ("conv2d", '''
def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    N, C, H, W = xp.shape
    O, _, kh, kw = weight.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, o, i, j] = np.sum(xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] * weight[o])
    return out
'''),
    "stride_ignored": ("max_pool2d", '''
def max_pool2d(x, kernel_size, stride=None):
    k = kernel_size
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // k, W // k))
    for i in range(H // k):
        for j in range(W // k):
            out[:, :, i, j] = x[:, :, i * k:i * k + k, j * k:j * k + k].max(axis=(2, 3))
    return out
'''),
    "sum_not_mean": ("avg_pool2d", '''
def avg_pool2d(x, kernel_size, stride=None):
    k = kernel_size
    s = stride or k
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].sum(axis=(2, 3))
    return out
'''),
}


def _cell(source: str, cell_id: str) -> dict:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "outputs": [], "execution_count": None,
            "source": notebook.split_lines(source.strip("\n"))}


def _replace(nb: dict, function: str, source: str) -> None:
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and f"def {function}(" in "".join(c["source"]))
    cell["source"] = notebook.split_lines(source.strip("\n"))


def _override(nb: dict, function: str, source: str) -> None:
    """Redefine ``function`` in a new cell right after the cell that defines it (the cell may define others)."""
    index = next(i for i, c in enumerate(nb["cells"])
                 if c["cell_type"] == "code" and f"def {function}(" in "".join(c["source"]))
    nb["cells"].insert(index + 1, _cell(source, f"override-{function}"))


def _functions(lab) -> list[str]:
    return sorted({t.function for t in lab.tests})


def make_class(lab_id: str, n: int, seed: int = 0):
    """n submissions: (kind, notebook dict or raw text)."""
    lab = read_source(source_path(lab_id))
    solved, blank = student_notebook(lab, solutions=True), student_notebook(lab)
    functions = _functions(lab)
    rng = random.Random(seed)
    kinds = (["correct"] * 40 + ["vectorised"] * 15 + ["one_mistake"] * 25 + ["two_mistakes"] * 10
             + ["blank"] * 3 + ["syntax_error"] * 2 + ["import_error"] * 2 + ["invalid_json"] * 1
             + ["loop_in_function"] * 1 + ["loop_in_cell"] * 1)
    if lab_id != CONV_POOL:  # no catalogue of mistakes: a function that returns the wrong thing instead
        kinds = [k for k in kinds if k != "vectorised"]
    out = []
    for i in range(n):
        kind = rng.choice(kinds) if i >= 10 else ["correct", "blank", "one_mistake", "loop_in_function",
                                                  "loop_in_cell", "syntax_error", "invalid_json", "vectorised",
                                                  "two_mistakes", "import_error"][i]
        if lab_id != CONV_POOL and kind == "vectorised":
            kind = "correct"
        nb = copy.deepcopy(blank if kind == "blank" else solved)
        if kind in ("one_mistake", "two_mistakes") and lab_id != CONV_POOL:
            names = rng.sample(functions, min(len(functions), 1 if kind == "one_mistake" else 2))
            for fn in names:
                _override(nb, fn, f"def {fn}(*args, **kwargs):\n    return np.zeros(3)")
            kind = f"{kind}:{'+'.join(names)}"
        elif kind == "vectorised":
            for fn, src in VECTORISED.items():
                _replace(nb, fn, src)
        elif kind in ("one_mistake", "two_mistakes"):
            names = rng.sample(sorted(MISTAKES), 1 if kind == "one_mistake" else 2)
            for name in names:
                fn, src = MISTAKES[name]
                _replace(nb, fn, src)
            kind = f"{kind}:{'+'.join(names)}"
        elif kind == "syntax_error":
            nb["cells"].insert(3, _cell("def helper(:\n    pass", "broken"))
        elif kind == "import_error":
            nb["cells"].insert(2, _cell("import numpy_extra_tools", "imp"))
        elif kind == "loop_in_function":
            fn = functions[-1]
            _override(nb, fn, f"def {fn}(*args, **kwargs):\n    while True:\n        pass")
        elif kind == "loop_in_cell":
            nb["cells"].append(_cell("while True:\n    pass", "loop"))
        elif kind == "invalid_json":
            out.append((kind, "{ this is not json"))
            continue
        out.append((kind, nb))
    return out


def grade_lab(lab_id: str, n: int, jobs: int, seed: int) -> dict:
    """Grade a generated class of ``lab_id``; print a table by kind; return the lab's summary row."""
    base = Path(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    try:
        subs, out = base / "submissions", base / "results"
        subs.mkdir()
        kinds = {}
        for i, (kind, nb) in enumerate(make_class(lab_id, n, seed)):
            name = f"student_{i:03d}"
            kinds[name] = kind
            (subs / f"{name}.ipynb").write_text(nb if isinstance(nb, str) else notebook.dumps(nb), encoding="utf-8")
        started = time.perf_counter()
        report = grade_class(subs, source_path(lab_id), out, jobs=jobs)
        seconds = time.perf_counter() - started

        by_kind = defaultdict(list)
        for res in report.rows:
            kind = kinds[res["extra_data"]["student"]].split(":")[0]
            by_kind[kind].append(res)
        print(f"\n{lab_id}\n{'kind':<18}{'n':>5}{'mean score':>12}{'mean s/sub':>12}{'max s/sub':>11}")
        for kind in sorted(by_kind):
            rows = by_kind[kind]
            print(f"{kind:<18}{len(rows):>5}{statistics.mean(r['score'] for r in rows):>12.2f}"
                  f"{statistics.mean(r['execution_time'] for r in rows):>12.2f}"
                  f"{max(r['execution_time'] for r in rows):>11.2f}")
        for warning in report.warnings:
            print(f"warning: {warning}")
        honest = [r["execution_time"] for r in report.rows
                  if kinds[r["extra_data"]["student"]].split(":")[0] in ("correct", "vectorised")]
        return {"lab": lab_id, "n": len(report.rows), "wall": seconds, "max_score": report.rows[0]["max_score"],
                "correct_mean": statistics.mean(honest) if honest else float("nan"),
                "correct_max": max(honest) if honest else float("nan")}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", action="append", choices=LABS, help="a lab (repeatable; default: every lab)")
    parser.add_argument("-n", type=int, default=40, help="submissions per lab (default 40)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="parallel children (default: CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    jobs = options.jobs or default_jobs()
    rows = [grade_lab(lab_id, options.n, jobs, options.seed) for lab_id in options.lab or LABS]
    print(f"\nseconds per submission ({jobs} parallel children); 'correct' = one child grading a correct notebook")
    print(f"{'lab':<18}{'n':>5}{'max score':>11}{'wall s/sub':>12}{'correct mean':>14}{'correct max':>13}")
    for r in rows:
        print(f"{r['lab']:<18}{r['n']:>5}{r['max_score']:>11g}{r['wall'] / r['n']:>12.2f}"
              f"{r['correct_mean']:>14.2f}{r['correct_max']:>13.2f}")


if __name__ == "__main__":
    main()
