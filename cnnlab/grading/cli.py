"""``cnnlab-grade``: generate student notebooks, grade a class, export to Gradescope."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _limits_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits (default: the lab's own, see metadata.cnnlab.limits)")
    group.add_argument("--cell-timeout", type=float, help="seconds per notebook cell")
    group.add_argument("--call-timeout", type=float, help="seconds per call of a student function on a test")
    group.add_argument("--total-timeout", type=float, help="seconds for a whole submission (hard kill)")
    group.add_argument("--memory-mb", type=int, help="address-space limit of the student process")


def _overrides(options) -> dict:
    return {k: getattr(options, k) for k in ("cell_timeout", "call_timeout", "total_timeout", "memory_mb")
            if getattr(options, k) is not None}


def _generate(options) -> int:
    from cnnlab.grading.authoring import AuthoringError, generate
    status = 0
    for source in options.sources:
        try:
            result = generate(source, options.out, public_dir=options.public_dir, bundle_dir=options.bundle,
                              check_only=options.check)
        except AuthoringError as error:
            print(f"cnnlab-grade generate: {error}", file=sys.stderr)
            return 2
        if options.check:
            if result.changed:
                status = 1
                for path in result.changed:
                    print(f"out of date: {path} (run: cnnlab-grade generate {source} --out {options.out})")
            else:
                print(f"up to date: {result.notebook}, {result.public_module}")
        else:
            for path in (result.notebook, result.public_module, result.bundle):
                if path:
                    print(f"{'wrote' if path in result.changed or path == result.bundle else 'unchanged'}: {path}")
    return status


def _isolation_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--isolation", choices=("bwrap", "uid-only"), default="bwrap",
                        help="bwrap (default): namespaces, a private file system, cgroups where available; it refuses "
                             "to run where it cannot. uid-only: WEAKER, only for one container per submission "
                             "(Gradescope): no namespaces, the machine's file system is visible")


def _grade(options) -> int:
    from cnnlab.grading.compare import safe_text
    from cnnlab.grading.grade import grade_class

    def progress(student, res):
        if not options.quiet:
            print(f"{safe_text(student, 120)}: {res['score']:g}/{res['max_score']:g} ({res['extra_data']['status']}, "
                  f"{res['execution_time']:.1f}s)", flush=True)

    report = grade_class(options.submissions, options.lab, options.out, jobs=options.jobs, force=options.force,
                         overrides=_overrides(options), isolation=options.isolation, progress=progress)
    for entry in report.refused:
        print(f"not graded: {entry.shown}: {entry.problem}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"isolation: {report.isolation}")
    print(f"graded {len(report.graded)}, skipped {len(report.skipped)} (already graded; --force regrades), "
          f"not graded {len(report.refused)} in {report.seconds:.1f}s; gradebook: {report.gradebook}")
    return 0


def _export(options) -> int:
    from cnnlab.grading.gradescope import check_zip, export
    path = export(options.lab, options.out, isolation=options.isolation)
    problems = check_zip(path)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    print(f"wrote {path}")
    return 1 if problems else 0


def _run_gradescope(options) -> int:
    from cnnlab.grading.gradescope import run
    res = run(options.bundle, options.submission, options.results, isolation=options.isolation)
    print(f"isolation: {res['extra_data']['isolation']}")
    print(f"score {res['score']:g}/{res['max_score']:g}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlab-grade", description="Author, hand out and grade the cnnlab labs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="source notebook -> student notebook + public test data (+ bundle)")
    p.add_argument("sources", nargs="+", type=Path, help="labs/source/<lab>.ipynb")
    p.add_argument("--out", type=Path, default=Path("labs"), help="folder of the student notebooks (labs/)")
    p.add_argument("--public-dir", type=Path, default=None,
                   help="folder of the public test modules (default: cnnlab/grading/labs of this package)")
    p.add_argument("--bundle", type=Path, default=None, help="also write the grading bundle to BUNDLE/<lab>/")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the outputs are out of date")
    p.set_defaults(func=_generate)

    p = sub.add_parser("grade", help="grade a folder of submissions (one .ipynb per student)")
    p.add_argument("submissions", type=Path)
    p.add_argument("--lab", required=True, type=Path, help="labs/source/<lab>.ipynb or a bundle folder")
    p.add_argument("--out", required=True, type=Path, help="results folder: <student>/results.json, gradebook.csv")
    p.add_argument("--jobs", "-j", type=int, default=None, help="submissions graded at once (default: CPUs)")
    p.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    p.add_argument("--quiet", "-q", action="store_true")
    _isolation_arg(p)
    _limits_args(p)
    p.set_defaults(func=_grade)

    p = sub.add_parser("export-gradescope", help="write a Gradescope autograder zip")
    p.add_argument("--lab", required=True, type=Path, help="labs/source/<lab>.ipynb or a bundle folder")
    p.add_argument("--out", required=True, type=Path, help="the zip to write")
    p.add_argument("--isolation", choices=("uid-only", "bwrap"), default="uid-only",
                   help="what run_autograder asks for: uid-only (default: Gradescope's containers have no user "
                        "namespaces; each submission has a container of its own) or bwrap")
    p.set_defaults(func=_export)

    p = sub.add_parser("run-gradescope", help="grade one submission inside a Gradescope container (run_autograder)")
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--submission", required=True, type=Path)
    p.add_argument("--results", required=True, type=Path)
    _isolation_arg(p)
    p.set_defaults(func=_run_gradescope)
    return parser


def main(argv=None) -> int:
    from cnnlab.grading.sandbox import SandboxUnavailable
    options = build_parser().parse_args(argv)
    try:
        return options.func(options)
    except SandboxUnavailable as error:
        print(f"cnnlab-grade {options.command}: refusing to run student code: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"cnnlab-grade {options.command}: {error}", file=sys.stderr)
        return 2
