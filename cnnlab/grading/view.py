"""What the grading child may see of the file system: the Python runtime, the installed packages and the
``cnnlab`` package, read-only, and nothing else.

The sandbox (:mod:`cnnlab.grading.sandbox`) starts from an empty root and binds only the paths listed
here. Never in the view: the course checkout (its ``.git``, ``labs/source/`` with every solution and
hidden test), the grading bundle, the submissions and the results; :func:`build` refuses to make a view
that would contain one of the ``secrets`` it is given.

A package the lab forbids (``torch``, ``cnnlab.numpy``...) is *absent*: in every package directory of the
view its files are covered by :mod:`cnnlab.grading._absent`, whose import raises ImportError. No code in
the student's process guards it; there is nothing to import.
"""

from __future__ import annotations

import glob
import importlib.metadata
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

#: system directories the interpreter and its shared libraries come from
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: files of /etc the dynamic loader and the C library read
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
ABSENT = Path(__file__).resolve().parent / "_absent"


class ViewError(RuntimeError):
    """A view that would show the child something it must not see."""


@dataclass
class View:
    binds: list = field(default_factory=list)      # (host path, path inside), read-only
    symlinks: list = field(default_factory=list)   # (target, path inside), e.g. /lib -> usr/lib
    masks: list = field(default_factory=list)      # (stub on the host, path inside): a forbidden package
    pythonpath: str = ""

    def sources(self) -> list[str]:
        return [src for src, _ in self.binds + self.masks]


def package_root() -> str:
    """The folder that holds the ``cnnlab`` package (a checkout, or site-packages)."""
    import cnnlab
    return str(Path(cnnlab.__file__).resolve().parent.parent)


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _package_dirs(binds) -> list[str]:
    """Every directory Python may import from in the view: sys.path's, the folder of ``cnnlab``, and the
    site- and dist-packages of any Python under a bound tree (a student can add those to sys.path)."""
    found = [p for p in sys.path if p and os.path.isdir(p)] + [package_root()]
    for src, _ in binds:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                        "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages"):
            found += glob.glob(os.path.join(src, pattern))
    out = []
    for p in map(os.path.realpath, found):
        if p not in out:
            out.append(p)
    return out


def _distribution_names(name: str) -> set[str]:
    """A forbidden top-level package and the other top-level packages of its distribution
    (torch -> torch, functorch, torchgen)."""
    names = {name}
    try:
        by_package = importlib.metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - broken metadata of some other package
        return names
    dists = set(by_package.get(name, []))
    for package, owners in by_package.items():
        if dists & set(owners):
            names.add(package)
    return names


def _module_paths(directory: str, dotted: str) -> list[str]:
    """The files or folder a module would be imported from, inside one package directory."""
    base = os.path.join(directory, *dotted.split("."))
    hits = [base] if os.path.isdir(base) else []
    hits += [p for p in glob.glob(glob.escape(base) + ".*")
             if p.endswith((".py", ".pyc", ".so", ".pyd")) and os.path.isfile(p)]
    return hits


def build(forbidden=(), secrets=(), python: str | None = None) -> View:
    """The child's view for the interpreter ``python`` (default: this one)."""
    python = python or sys.executable
    view = View()
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            view.symlinks.append((os.readlink(path), path))
        elif os.path.isdir(path):
            view.binds.append((path, path))
    view.binds += [(p, p) for p in ETC_FILES if os.path.exists(p)]
    trees = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"],
                                           os.path.dirname(os.path.dirname(os.path.realpath(python))))}
    for tree in sorted(trees):
        if not any(_inside(tree, src) for src, _ in view.binds):
            view.binds.append((tree, tree))
    cnnlab_dir = os.path.join(package_root(), "cnnlab")
    if not any(_inside(cnnlab_dir, src) for src, _ in view.binds):
        view.binds.append((cnnlab_dir, cnnlab_dir))
        view.pythonpath = package_root()
    # the interpreter may be reached through symlinks (a venv's bin/python -> /root/.pyenv/...)
    for link in (python, os.path.realpath(python)):
        if not any(_inside(link, src) for src, _ in view.binds):
            raise ViewError(f"the interpreter {link} is outside the paths the sandbox binds")

    for secret in secrets:
        if not os.path.exists(secret):
            continue
        for src, _ in view.binds:
            if _inside(secret, src):
                raise ViewError(f"{secret} lies inside {src}, which the grading child needs to see: move it "
                                "out of there (the child would be able to read it)")

    stub_dir, stub_file = str(ABSENT), str(ABSENT / "__init__.py")
    for dotted in forbidden:
        top, _, rest = dotted.partition(".")
        names = [dotted] if rest else sorted(_distribution_names(top))
        for directory in _package_dirs(view.binds):
            for name in names:
                for path in _module_paths(directory, name):
                    if _inside(stub_dir, path) or not any(_inside(path, src) for src, _ in view.binds):
                        continue  # never cover the stub itself; what is not bound is not there anyway
                    view.masks.append((stub_dir if os.path.isdir(path) else stub_file, path))
    return view
