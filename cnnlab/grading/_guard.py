"""A time limit for one call, by SIGALRM, that student code cannot swallow by accident.

``guarded(fn, seconds)`` calls ``fn()`` and returns ``("ok", value)``, ``("timeout", None)`` or
``("error", exception)``. The alarm raises :class:`Timeout` (a ``BaseException``, so a student's
``except Exception`` does not catch it) and then keeps firing every 0.2 s until the call returns, so
that a ``try/except BaseException`` inside a loop cannot hold on to the CPU forever either. It never
raises inside the bookkeeping of this module or of the modules registered with
:func:`protect_file` (the handler looks at the interrupted frame), so the caller always gets an
answer.

This is the *cooperative* limit: code that disables SIGALRM or blocks inside C can outlive it. The
hard limit is the grader's watchdog, which kills the whole process group.
"""

from __future__ import annotations

import signal
import threading

_PROTECTED = {__file__}
_state = {"armed": False}


class Timeout(BaseException):
    """The time limit of a cell or a call ran out."""


def protect_file(path: str) -> None:
    """Never raise :class:`Timeout` while a frame of the file ``path`` is running."""
    _PROTECTED.add(path)


def _on_alarm(signum, frame):
    if _state["armed"] and frame is not None and frame.f_code.co_filename not in _PROTECTED:
        raise Timeout()


def available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _disarm() -> None:
    _state["armed"] = False
    if available():
        signal.setitimer(signal.ITIMER_REAL, 0, 0)


def guarded(fn, seconds: float | None):
    """Run ``fn()`` under a time limit (none when ``seconds`` is None or alarms are unavailable)."""
    use_alarm = bool(seconds) and available()
    previous = None
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        try:
            if use_alarm:
                _state["armed"] = True
                signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
            value = fn()
            outcome = ("ok", value)
        except Timeout:
            outcome = ("timeout", None)
        except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
            outcome = ("error", error)
    finally:
        if use_alarm:
            _disarm()
            try:
                signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
            except (TypeError, ValueError):
                pass
    return outcome
