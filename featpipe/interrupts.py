"""Ctrl-C acted on where stopping is safe, not at whatever line the main thread is on.

Python raises KeyboardInterrupt between any two bytecodes. A batch's parent process spends its
waking time in bookkeeping (rewriting the results table, serializing configs), and pydantic
turns a KeyboardInterrupt raised inside its serializer into a serialization error: the command
then exits 1 with a traceback instead of 130 with its message. Inside `held_interrupts()` a
Ctrl-C is held until the code reaches an `interruptible()` region (a blocking wait) and is
raised there; a second Ctrl-C while one is held is raised at once, so a hung step can still be
left.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class InterruptGate:
    """Holds Ctrl-C (SIGINT) between safe points; `received` says whether one came."""

    def __init__(self) -> None:
        self.received = False
        self._held = False
        self._open = 0

    def _on_sigint(self, signum, frame) -> None:
        self.received = True
        if self._open or self._held:
            self._held = False
            raise KeyboardInterrupt
        self._held = True

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A region where Ctrl-C acts at once; one held since the last region is raised on entry."""
        if self._held:
            self._held = False
            raise KeyboardInterrupt
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1


_active: InterruptGate | None = None


@contextlib.contextmanager
def held_interrupts() -> Iterator[InterruptGate]:
    """Hold Ctrl-C in this block except inside `interruptible()` regions.

    Only the main thread receives signals, so elsewhere (and where SIGINT is ignored or handled
    by someone else) the gate is inert: Ctrl-C behaves as it did. Nested uses share the outer gate.
    """
    global _active
    if _active is not None:
        yield _active
        return
    gate = InterruptGate()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield gate
        return
    signal.signal(signal.SIGINT, gate._on_sigint)
    _active = gate
    try:
        yield gate
    finally:
        _active = None
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interruptible() -> contextlib.AbstractContextManager:
    """The active gate's interruptible region, or a no-op where no gate is held."""
    return _active.interruptible() if _active is not None else contextlib.nullcontext()


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether `error` was raised because of a KeyboardInterrupt (a library wrapped it, as pydantic does)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__
    return False
