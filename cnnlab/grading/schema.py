"""The grading bundle's ``lab.json``, typed: what a lab is to the grader, checked when it is read.

Every module reads a bundle through these dataclasses (attributes, never string keys); this module
alone turns them into JSON and back. :func:`from_json` checks every field against its annotation and
says which file, which field, what was expected and what came. ``format_version`` changes whenever
the layout does: a bundle of another version is refused with the command that rebuilds it.

The file keeps the key ``lab`` for the lab's id (:attr:`LabFile.lab_id`).
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass

#: version 1 had the key ``format``; version 2 calls it ``format_version``, with the same content otherwise
FORMAT_VERSION = 2
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
REBUILD = ("cnnlab-grade generate labs/source/<lab>.ipynb --bundle DIR "
           "(or grade with --lab labs/source/<lab>.ipynb, which builds it afresh)")


class SchemaError(ValueError):
    """Data that does not have the bundle's shape; the message names the field."""


@dataclass
class Limits:
    """Per-submission limits. Timeouts in seconds, sizes in MiB / KiB."""

    cell_timeout: float = 30.0
    call_timeout: float = 10.0
    total_timeout: float = 180.0
    memory_mb: int = 2048
    file_mb: int = 64
    output_kb: int = 256
    workdir_mb: int = 256          # the tmpfs on /tmp (the working directory)
    scratch_mb: int = 64           # each of the tmpfs on /var/tmp and /dev/shm
    nproc: int = 64
    nofile: int = 256

    def updated(self, **changes) -> "Limits":
        values = asdict(self)
        values.update({k: v for k, v in changes.items() if v is not None})
        return Limits(**values)


@dataclass
class Question:
    id: str
    points: float
    title: str


@dataclass
class Test:
    """One test as data. ``args`` and ``kwargs`` are encoded values (see :func:`protocol.encode_value`)
    or ``{"array": "in/<test>/<arg>", "text": "randn(...)"}`` references to the bundle's input arrays."""

    id: str
    question: str
    function: str
    hidden: bool
    name: str | None
    hint: str | None
    rtol: float
    atol: float
    args: list
    kwargs: dict
    call: str                      # how the call reads in the notebook, for the feedback
    points: float                  # the test's share of its question's points


@dataclass
class LabFile:
    """The whole of ``lab.json``."""

    format_version: int
    lab_id: str = field(metadata={"key": "lab"})
    title: str
    source_sha256: str
    source_path: str
    questions: list[Question]
    tests: list[Test]
    limits: Limits
    forbidden_imports: list[str]
    hidden_visibility: str

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    def check(self) -> None:
        """What the types alone do not say."""
        if self.hidden_visibility not in VISIBILITIES:
            raise SchemaError(f"field hidden_visibility: expected one of {', '.join(VISIBILITIES)}, "
                              f"got {self.hidden_visibility!r}")
        ids = [q.id for q in self.questions]
        for i, test in enumerate(self.tests):
            if test.question not in ids:
                raise SchemaError(f"field tests[{i}].question: expected one of {', '.join(ids)}, got {test.question!r}")
        if len({t.id for t in self.tests}) != len(self.tests):
            raise SchemaError("field tests: two tests have the same id")


# ----------------------------------------------------------------------------- JSON <-> dataclasses


def _key(f) -> str:
    return f.metadata.get("key", f.name)


def to_json(value):
    """Dataclasses -> plain JSON values (the file's keys)."""
    if is_dataclass(value):
        return {_key(f): to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def _got(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number", list: "a list",
          dict: "an object"}


def _value(kind, value, where: str):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        return None if value is None else _value(options[0], value, where)
    if is_dataclass(kind):
        return from_json(kind, value, where)
    base = origin or kind
    ok = isinstance(value, base) and not (isinstance(value, bool) and base in (int, float))
    if base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise SchemaError(f"field {where}: expected {_NAMES[base]}, got {_got(value)}")
    if base is list and typing.get_args(kind):
        item = typing.get_args(kind)[0]
        return [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def from_json(cls, data, where: str = ""):
    """``data`` (parsed JSON) as a ``cls``, every field checked; :class:`SchemaError` names the field."""
    if not isinstance(data, dict):
        raise SchemaError(f"field {where or '(top level)'}: expected an object, got {_got(data)}")
    hints = typing.get_type_hints(cls)
    prefix = f"{where}." if where else ""
    known = {_key(f) for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SchemaError(f"field {prefix}{unknown[0]}: not a field of {cls.__name__} (fields: {', '.join(sorted(known))})")
    values = {}
    for f in fields(cls):
        key = _key(f)
        if key not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SchemaError(f"field {prefix}{key}: missing (expected {_describe(hints[f.name])})")
            continue
        values[f.name] = _value(hints[f.name], data[key], prefix + key)
    return cls(**values)


def _describe(kind) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return _describe([k for k in typing.get_args(kind) if k is not type(None)][0]) + " or null"
    if is_dataclass(kind):
        return "an object"
    return _NAMES[typing.get_origin(kind) or kind]


def read_lab(data) -> LabFile:
    """Parsed ``lab.json`` -> :class:`LabFile`; the version is checked first, then every field."""
    if not isinstance(data, dict):
        raise SchemaError(f"expected an object, got {_got(data)}")
    version = data.get("format_version", data.get("format"))
    if version != FORMAT_VERSION:
        raise SchemaError(f"bundle format {version!r}, this grader reads {FORMAT_VERSION}: rebuild it with {REBUILD}")
    lab = from_json(LabFile, data)
    lab.check()
    return lab
