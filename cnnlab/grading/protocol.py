"""The data that crosses the sandbox boundary, in both directions, and nothing else.

The grader and the child that runs a student's code exchange *records*: a small JSON header and an
optional blob (an ``.npy`` image of one array). A record is framed as::

    b"CNLB" | u32 little-endian header length | u32 blob length | header (UTF-8 JSON) | blob

The trusted side reads what the child sends with :class:`RecordStream` (or :func:`read_records`),
which never trusts a length it has not checked, stops at the first malformed record, and loads arrays
with ``allow_pickle=False`` only (no object arrays, hence no code). The child may write garbage or forge
records: a forged record can only claim an output, which is then judged like any other output; it
can never carry a verdict, because verdicts are computed by the grader from the reference, which the
child never sees. Which records the grader accepts at which moment is decided by the sandbox
(:meth:`cnnlab.grading.sandbox.Sandbox.run`): control records only before the student's first cell.

Code cells travel as blobs (``{"kind": "cell_source"}`` + UTF-8 bytes), so a cell is bounded by the
notebook size limit (20 MiB), never by the header limit below.

This module is imported by the child before any student code runs, so it stays small and depends
on NumPy only.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np

MAGIC = b"CNLB"
_FRAME = struct.Struct("<4sII")
MAX_HEADER_BYTES = 1 << 20
#: numeric kinds an output may have: bool, signed, unsigned, float
NUMERIC_KINDS = "biuf"


class ProtocolError(ValueError):
    """Malformed data on the wire."""


# ----------------------------------------------------------------------------- records


def encode_record(header: dict, blob: bytes = b"") -> bytes:
    raw = json.dumps(header, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return _FRAME.pack(MAGIC, len(raw), len(blob)) + raw + blob


class RecordStream:
    """Records from a pipe, as bytes arrive: ``feed(data)`` returns the records completed by ``data``.

    After the first malformed frame ``broken`` is True and nothing more is returned (the reader never
    guesses where a record might start again). ``total`` counts the bytes fed, for the caller's cap."""

    def __init__(self, max_header: int = MAX_HEADER_BYTES, max_total: int | None = None):
        self.max_header, self.max_total = max_header, max_total
        self.buffer = bytearray()
        self.broken = False
        self.total = 0

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        self.total += len(data)
        if self.broken:
            return []
        self.buffer += data
        records, pos = [], 0
        view = memoryview(self.buffer)
        try:
            while len(self.buffer) - pos >= _FRAME.size:
                magic, hlen, blen = _FRAME.unpack_from(view, pos)
                claimed = self.total - len(self.buffer) + pos + _FRAME.size + hlen + blen
                if magic != MAGIC or hlen > self.max_header or (self.max_total is not None and claimed > self.max_total):
                    self.broken = True  # a frame that could never complete would swallow every later one
                    break
                start = pos + _FRAME.size
                if len(self.buffer) - start < hlen + blen:
                    break
                try:
                    header = json.loads(bytes(view[start:start + hlen]).decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError):
                    header = None
                if not isinstance(header, dict):
                    self.broken = True
                    break
                records.append((header, bytes(view[start + hlen:start + hlen + blen])))
                pos = start + hlen + blen
        finally:
            view.release()
        del self.buffer[:pos]
        if self.broken:
            self.buffer = bytearray()
        return records

    @property
    def clean(self) -> bool:
        """Everything fed so far formed whole records."""
        return not self.broken and not self.buffer


def read_records(data: bytes, max_records: int = 100_000) -> tuple[list[tuple[dict, bytes]], bool]:
    """Split ``data`` into ``(header, blob)`` records.

    Returns ``(records, clean)``; ``clean`` is False when trailing bytes did not form a record
    (the reader stops there rather than guess).
    """
    stream = RecordStream()
    records = stream.feed(data)
    return records[:max_records], stream.clean and len(records) <= max_records


# ----------------------------------------------------------------------------- arrays


def array_to_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def array_from_bytes(blob: bytes, max_elements: int = 50_000_000) -> np.ndarray:
    """Load one ``.npy`` image that came from an untrusted process: plain numeric arrays only."""
    buffer = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ProtocolError(f"unsupported .npy version {version}")
    except ProtocolError:
        raise
    except Exception as error:  # noqa: BLE001 - any header problem is a protocol error
        raise ProtocolError(f"bad .npy header: {error}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in NUMERIC_KINDS:
        raise ProtocolError(f"array dtype {dtype} is not a plain number type")
    count = 1
    for n in shape:
        count *= int(n)
    if count > max_elements:
        raise ProtocolError(f"array of {count} elements is larger than allowed")
    buffer.seek(0)
    try:
        array = np.lib.format.read_array(buffer, allow_pickle=False)
    except Exception as error:  # noqa: BLE001
        raise ProtocolError(f"bad .npy data: {error}") from None
    return np.asarray(array)


# ----------------------------------------------------------------------------- values


def encode_value(value):
    """Python argument -> JSON. Tuples and lists are tagged so that they come back as themselves."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"float": repr(value)}
        return value
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return {"list": [encode_value(v) for v in value]}
    raise TypeError(f"cannot send {type(value).__name__} {value!r} as a test argument")


def decode_value(data, arrays: dict | None = None):
    if isinstance(data, dict):
        if "array" in data:
            return arrays[data["array"]].copy()
        if "tuple" in data:
            return tuple(decode_value(v, arrays) for v in data["tuple"])
        if "list" in data:
            return [decode_value(v, arrays) for v in data["list"]]
        if "float" in data:
            return float(data["float"])
        raise ProtocolError(f"unknown value tag {sorted(data)}")
    return data


# ----------------------------------------------------------------------------- outputs


class BadOutput(TypeError):
    """A student's function returned something that is not a numeric array."""

    def __init__(self, type_name: str, detail: str = ""):
        super().__init__(type_name)
        self.type_name = type_name
        self.detail = detail


def to_output(value) -> np.ndarray:
    """What a student's function returned -> a plain numeric ndarray, or :class:`BadOutput`.

    Accepted: an ndarray (subclasses are reduced to ndarray), a NumPy or Python number, or a
    list/tuple that NumPy turns into a numeric array. Anything else (None, str, dict, objects) is a
    wrong type.
    """
    type_name = type(value).__name__[:60]
    if isinstance(value, np.ndarray):
        array = np.array(value, copy=True, subok=False)
    elif isinstance(value, (bool, int, float, np.generic, list, tuple)):
        try:
            array = np.array(value, subok=False)
        except Exception as error:  # noqa: BLE001 - ragged lists and friends
            raise BadOutput(type_name, f"{type(error).__name__}") from None
    else:
        raise BadOutput(type_name)
    if array.dtype.hasobject or array.dtype.fields is not None or array.dtype.kind not in NUMERIC_KINDS:
        raise BadOutput(type_name, f"dtype {array.dtype}")
    return array
