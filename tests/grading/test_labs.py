"""Every lab of the course, graded as a class would be.

For each lab in ``cnnlab.grading.labs.LABS``: the committed student notebook and public test data are
what the source notebook generates; grading gives the reference solution full marks, the untouched
student notebook zero, and a submission with one question wrong exactly that question's points less.
(nbval executes the source and the student notebooks themselves: ``pytest labs/``.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from grading_helpers import ROOT, make_submission, write

from cnnlab.grading import notebook
from cnnlab.grading.authoring import build_bundle, public_module_text, read_source, student_notebook
from cnnlab.grading.grade import grade_class
from cnnlab.grading.labs import ALIASES, LABS, resolve
from cnnlab.grading.student import Lab

#: lab -> (question, function, a wrong version of that function which breaks only that question)
WRONG = {
    "lab1_neuron": ("q4", "numerical_derivative", '''
def numerical_derivative(name, x, h=1e-5):
    # the classic mistake: the one-sided difference, whose error is proportional to h
    f = FUNCTIONS[name]
    return (f(x + h) - f(x)) / h
'''),
    "lab3_backprop": ("q2", "relu_backward", '''
def relu_backward(grad_out, x):
    # the classic mistake: the gradient passes everywhere, as if ReLU were the identity
    return grad_out.copy()
'''),
    "lab4_train_cnn": ("q5", "dropout", '''
def dropout(x, keep, p):
    # the classic mistake: the kept values are not scaled by 1 / (1 - p)
    return x * keep
'''),
    "lab5_torch_gpu": ("q2", "loss_and_grads", '''
def loss_and_grads(model, x, y):
    # the classic mistake: no model.zero_grad(), so torch adds this step's gradients to the last ones
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.item()
'''),
    "lab2_conv_pool": ("q4", "avg_pool2d", '''
def avg_pool2d(x, kernel_size, stride=None):
    # the classic mistake: the window's sum instead of its mean
    k = kernel_size
    s = stride or k
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - k) // s + 1, (W - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].sum(axis=(2, 3))
    return out
'''),
}


def source_path(lab_id: str) -> Path:
    return ROOT / "labs" / "source" / f"{lab_id}.ipynb"


def test_every_lab_has_a_source_a_student_notebook_and_public_data():
    sources = sorted(p.stem for p in (ROOT / "labs" / "source").glob("*.ipynb"))
    assert sources == sorted(LABS)
    for lab_id in LABS:
        assert (ROOT / "labs" / f"{lab_id}.ipynb").is_file(), lab_id
        assert (ROOT / "cnnlab" / "grading" / "labs" / f"{lab_id}.py").is_file(), lab_id
    assert set(WRONG) == set(LABS), "every lab needs a one-question-wrong submission in WRONG"


def test_a_renamed_lab_is_found_by_its_old_id():
    assert resolve("lab1_conv_pool") == "lab2_conv_pool" == resolve("lab2_conv_pool")
    with pytest.raises(ValueError, match="unknown lab 'lab9'"):
        resolve("lab9")
    for old, new in ALIASES.items():
        old_data = __import__(f"cnnlab.grading.labs.{old}", fromlist=["LAB"]).LAB
        new_data = __import__(f"cnnlab.grading.labs.{new}", fromlist=["LAB"]).LAB
        assert old_data is new_data


def test_a_notebook_made_before_the_rename_still_checks():
    """``Lab("lab1_conv_pool")`` in an old student notebook: check() finds the public tests and runs them."""
    def conv2d_single(x, kernel):
        kh, kw = kernel.shape
        windows = __import__("numpy").lib.stride_tricks.sliding_window_view(x, (kh, kw))
        return (windows * kernel).sum(axis=(-2, -1))
    report = Lab("lab1_conv_pool").report("q1", {"conv2d_single": conv2d_single})
    assert "公开测试通过 2/2" in report, report


@pytest.fixture(scope="module", params=LABS)
def graded(request):
    """(source lab, bundle, {student: results}) for a reference, a blank and a one-wrong submission."""
    lab_id = request.param
    src = read_source(source_path(lab_id))
    bundle = build_bundle(src)
    base = Path(tempfile.mkdtemp(prefix=f"cnnlab-test-{lab_id}-"))  # private: the bundle holds hidden tests
    try:
        bundle_dir = bundle.save(base / "bundle" / lab_id)
        subs = base / "subs"
        subs.mkdir()
        write(make_submission(src), subs / "reference.ipynb")
        write(student_notebook(src), subs / "blank.ipynb")
        _, function, wrong = WRONG[lab_id]
        write(make_submission(src, replace={function: wrong.strip("\n")}), subs / "one_wrong.ipynb")
        grade_class(subs, bundle_dir, base / "out", jobs=2)
        results = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in (base / "out").glob("*/results.json")}
        yield src, bundle, results
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_committed_student_notebook_and_public_data_match_the_source(graded):
    src, bundle, _ = graded
    hint = f"run: cnnlab-grade generate labs/source/{src.lab_id}.ipynb --out labs/"
    assert (ROOT / "labs" / f"{src.lab_id}.ipynb").read_text(encoding="utf-8") == notebook.dumps(student_notebook(src)), hint
    committed, fresh = {}, {}
    public = ROOT / "cnnlab" / "grading" / "labs" / f"{src.lab_id}.py"
    exec(compile(public.read_text(encoding="utf-8"), str(public), "exec"), committed)  # noqa: S102
    exec(compile(public_module_text(bundle, src.path.name), "fresh", "exec"), fresh)  # noqa: S102
    # floats may differ in the last bit across machines; everything else must be identical
    strip = lambda d: json.loads(json.dumps(d, sort_keys=True), parse_float=lambda s: round(float(s), 9))  # noqa: E731
    assert strip(committed["LAB"]) == strip(fresh["LAB"]), hint


def test_every_question_has_public_and_hidden_tests(graded):
    src, _, _ = graded
    for q in src.questions:
        kinds = {t.hidden for t in src.tests if t.question == q.id}
        assert kinds == {False, True}, f"{src.lab_id} {q.id}: needs public and hidden tests"


def test_reference_solution_gets_full_marks(graded):
    src, _, results = graded
    res = results["reference"]
    assert res["max_score"] == sum(q.points for q in src.questions)
    assert res["score"] == res["max_score"], res["output"]
    assert res["extra_data"]["status"] == "graded"


def test_untouched_student_notebook_gets_zero(graded):
    _, _, results = graded
    res = results["blank"]
    assert res["score"] == 0
    assert all(t["score"] == 0 for t in res["tests"])


def test_one_wrong_question_loses_exactly_its_points(graded):
    src, _, results = graded
    qid = WRONG[src.lab_id][0]
    res = results["one_wrong"]
    questions = res["extra_data"]["questions"]
    assert questions[qid]["score"] == 0
    assert res["score"] == res["max_score"] - src.question(qid).points
    assert all(q["score"] == q["max_score"] for k, q in questions.items() if k != qid)
