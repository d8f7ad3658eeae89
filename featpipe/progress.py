"""One progress display for every long stage: a bar with an ETA on a terminal, plain lines in a log.

    from featpipe import progress

    with progress.stage("decoding train", total=len(paths), unit="img", enabled=not quiet) as bar:
        for chunk in chunks:
            ...
            bar.update(len(chunk))
            bar.set_status(f"{len(chunk)} per chunk")   # optional text after the bar / on each line
    progress.note("early stopping: validation accuracy did not improve for 5 epochs")

On a terminal a stage is a tqdm bar (count, rate, ETA) that is removed when the stage ends and
replaced by one closing line. When the output is not a terminal (a log file, a pipe, CI) there
are no ``\\r`` frames: a stage writes a line when it starts, one at each quarter of its total,
and one when it ends (with its duration). ``enabled=False`` (``--quiet``) writes nothing at all.
`enabled=None` means "show it on a terminal only" (quiet in logs), for chatty inner stages.

Whether shown or not, every stage tells the callbacks registered with `listening` when it starts,
advances and ends: a batch worker, whose runs print nothing, records the stage it is in for
`featpipe bench status`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import IO, Callable, Iterator

from tqdm import tqdm

#: Fractions of the total at which a stage writes a plain line when the output is not a terminal.
_MILESTONES = (0.25, 0.5, 0.75)

#: The stages open now, outermost first, and who wants to hear of them (see `listening`).
_open: list["Stage"] = []
_listeners: list[Callable[[list["Stage"]], None]] = []


def is_terminal(stream: IO[str]) -> bool:
    """Whether `stream` is an interactive terminal (a bar can redraw itself there)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


class Stage:
    """A running stage: `update(n)` as work gets done, `set_status(text)` for a short state."""

    def __init__(self, desc: str, total: int | None, unit: str, file: IO[str], mode: str) -> None:
        self.desc, self.total, self.unit, self.file, self.mode = desc, total, unit, file, mode
        self.done = 0
        self.status = ""
        self._started = time.perf_counter()
        self._next_milestone = 0
        self._bar = None
        if mode == "bar":
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=file, leave=False, dynamic_ncols=True)
        elif mode == "lines":
            self._line(f"started ({total:,} {unit})" if total else "started")
        _open.append(self)
        _tell()

    def update(self, n: int = 1) -> None:
        """Count `n` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines" and self.total:
            crossed = False
            while (self._next_milestone < len(_MILESTONES)
                   and self.done >= _MILESTONES[self._next_milestone] * self.total):
                self._next_milestone += 1
                crossed = True
            # one line however many milestones a big step crossed; none at the end (close() says done)
            if crossed and self.done < self.total:
                percent = int(100 * self.done / self.total)
                self._line(f"{percent}% ({self.done:,}/{self.total:,} {self.unit}, {self.elapsed():.1f} s)")
        _tell()

    def set_status(self, text: str) -> None:
        """A short state shown after the bar (on a terminal) and on the following plain lines."""
        self.status = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self, stopped: bool = False) -> None:
        """End the stage: remove the bar and write one closing line (nothing when quiet).

        `stopped`: the stage ended by an error or an interrupt, so the line says so.
        """
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.mode != "off":
            count = f"{self.done:,} {self.unit} " if self.total or self.done else ""
            verb = "stopped after" if stopped else "done:"
            self._line(f"{verb} {count}in {self.elapsed():.1f} s")
        self.mode = "off"
        if self in _open:
            _open.remove(self)
            _tell()

    def elapsed(self) -> float:
        """Seconds since the stage started."""
        return time.perf_counter() - self._started

    def _line(self, text: str) -> None:
        status = f" [{self.status}]" if self.status else ""
        self.file.write(f"{self.desc}: {text}{status}\n")
        self.file.flush()


@contextlib.contextmanager
def stage(desc: str, total: int | None = None, *, unit: str = "it", enabled: bool | None = True,
          file: IO[str] | None = None) -> Iterator[Stage]:
    """Show one stage's progress on `file` (default stderr) while the block runs; see the module doc."""
    file = sys.stderr if file is None else file
    terminal = is_terminal(file)
    if enabled is False or (enabled is None and not terminal):
        mode = "off"
    else:
        mode = "bar" if terminal else "lines"
    bar = Stage(desc, total, unit, file, mode)
    try:
        yield bar
    except BaseException:
        bar.close(stopped=True)
        raise
    bar.close()


@contextlib.contextmanager
def listening(callback: Callable[[list[Stage]], None]) -> Iterator[None]:
    """While the block runs, call `callback(stages)` (the open stages, outermost first) each time a
    stage starts, advances or ends, shown or quiet. The callback should be quick (throttle there)."""
    _listeners.append(callback)
    try:
        yield
    finally:
        _listeners.remove(callback)


def _tell() -> None:
    if not _listeners:  # the usual case: every update of every stage passes here
        return
    stages = list(_open)
    for callback in list(_listeners):
        callback(stages)


def note(text: str, *, enabled: bool = True, file: IO[str] | None = None) -> None:
    """One line of news (e.g. why training stopped), written above any bar; nothing when quiet."""
    if enabled:
        tqdm.write(text, file=sys.stderr if file is None else file)
