"""Running the reference solution of a source notebook and keeping its outputs: the grading bundle.

The reference runs in the students' sandbox (so a reference that needs a forbidden package fails
here), every test's inputs and outputs go into the bundle, and the blank student notebook is then
checked to define every tested function and to pass no test.
"""

from __future__ import annotations

from dataclasses import asdict

from cnnlab.grading import notebook
from cnnlab.grading.bundle import Bundle
from cnnlab.grading.compare import judge
from cnnlab.grading.markers import AuthoringError, SourceLab
from cnnlab.grading.protocol import array_from_bytes, encode_value
from cnnlab.grading.schema import (
    FORMAT_VERSION,
    LabFile,
    Limits,
    Question,
    SchemaError,
    Test,
    from_json,
    read_lab,
    to_json,
)
from cnnlab.grading.specs import InputSpec, TestSpec
from cnnlab.grading.student_notebook import student_notebook


def _encode_args(spec: TestSpec, arrays: dict):
    def enc(value, key):
        if isinstance(value, InputSpec):
            arrays[key] = value.materialize()
            return {"array": key, "text": repr(value)}
        return encode_value(value)
    args = [enc(v, f"in/{spec.id}/{i}") for i, v in enumerate(spec.args)]
    kwargs = {k: enc(v, f"in/{spec.id}/{k}") for k, v in spec.kwargs.items()}
    return args, kwargs


def _reference_limits() -> Limits:
    """The reference solution is trusted: generous limits, only to catch an author's infinite loop."""
    return Limits(cell_timeout=300, call_timeout=120, total_timeout=600, memory_mb=4096)


def lab_limits(config: dict) -> Limits:
    """The defaults, changed by the source notebook's ``metadata.cnnlab.limits`` (checked like the bundle)."""
    limits = config.get("limits", {})
    try:
        return from_json(Limits, {**asdict(Limits()), **limits} if isinstance(limits, dict) else limits,
                         "metadata.cnnlab.limits")
    except SchemaError as error:
        raise AuthoringError(str(error)) from None


def _split_points(src: SourceLab) -> dict:
    """A question's points, shared equally by its tests."""
    out = {}
    for q in src.questions:
        ids = [t.id for t in src.tests if t.question == q.id]
        for tid in ids:
            out[tid] = q.points / len(ids)
    return out


def reference_sandbox(forbidden_imports=()):
    """The sandbox the reference solution runs in: the students' (so a reference that needs a forbidden
    package fails here), or, where it cannot be built (not root, no bubblewrap), no isolation at all:
    the reference is the instructor's own code, not a student's."""
    from cnnlab.grading.sandbox import TRUSTED, Sandbox, SandboxUnavailable
    try:
        return Sandbox(_reference_limits(), forbidden_imports=forbidden_imports)
    except SandboxUnavailable:
        return Sandbox(_reference_limits(), isolation=TRUSTED)


def build_bundle(src: SourceLab, sandbox=None) -> Bundle:
    """Run the reference solution on every test (in the sandbox, like a submission) and keep the
    outputs; then check that the blank student notebook defines every tested function and passes
    nothing."""
    if sandbox is None:
        with reference_sandbox(src.config["forbidden_imports"]) as own:
            return build_bundle(src, own)
    limits = lab_limits(src.config)
    arrays: dict = {}
    tests = []
    points = _split_points(src)
    for spec in src.tests:
        args, kwargs = _encode_args(spec, arrays)
        tests.append(Test(id=spec.id, question=spec.question, function=spec.function, hidden=spec.hidden,
                          name=spec.name, hint=spec.hint, rtol=spec.rtol, atol=spec.atol, args=args, kwargs=kwargs,
                          call=spec.call_text(), points=points[spec.id]))
    lab = LabFile(format_version=FORMAT_VERSION, lab_id=src.lab_id, title=src.title, source_sha256=src.sha256,
                  source_path=str(src.path.resolve()),
                  questions=[Question(id=q.id, points=q.points, title=q.title) for q in src.questions],
                  tests=tests, limits=limits, forbidden_imports=src.config["forbidden_imports"],
                  hidden_visibility=src.config["hidden_visibility"])
    try:  # what the grader will read back: the settings from the notebook's metadata are checked here
        lab = read_lab(to_json(lab))
    except SchemaError as error:
        raise AuthoringError(f"{src.path.name}: {error} (metadata.cnnlab of the source notebook?)") from None
    bundle = Bundle(lab, dict(arrays))
    calls = bundle.calls()

    ref = sandbox.run(notebook.code_cells(src.nb), calls, arrays, limits=sandbox.limits)
    problems = [f"code cell {c['index']}: {c.get('error_type')}: {c.get('message')}"
                for c in ref.cells if c.get("status") != "ok"]
    for test in bundle.tests:
        record = ref.calls.get(test.id)
        if record is None or record[0].get("status") != "ok":
            header = record[0] if record else {"status": "no result"}
            problems.append(f"test {test.id} ({test.call}): {header.get('status')} "
                            f"{header.get('error_type', '')} {header.get('message', '')}".rstrip())
            continue
        bundle.arrays[f"out/{test.id}"] = array_from_bytes(record[1])
    if problems:
        raise AuthoringError(f"{src.path.name}: the reference solution does not run cleanly:\n  "
                             + "\n  ".join(problems) + (f"\n{ref.log_tail}" if ref.log_tail else "")
                             + (f"\n{ref.fatal}" if ref.fatal else ""))

    blank = sandbox.run(notebook.code_cells(student_notebook(src)), calls, arrays, limits=sandbox.limits)
    for test in bundle.tests:
        record = blank.calls.get(test.id)
        status = record[0].get("status") if record else None
        if status == "missing":
            problems.append(f"test {test.id}: the student notebook does not define {test.function}")
        elif judge(bundle.expected(test.id), record, test.rtol, test.atol).passed:
            problems.append(f"test {test.id}: the blank student notebook already passes it "
                            "(is the solution inside ### BEGIN SOLUTION / ### END SOLUTION?)")
    if problems:
        raise AuthoringError(f"{src.path.name}:\n  " + "\n  ".join(problems))
    return bundle

