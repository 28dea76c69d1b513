"""Progress lines for long work, readable on a terminal and in a log file.

On a terminal one line is redrawn in place (at most every 0.2 s); anywhere
else (a pipe, a log file) a complete line is printed at most every
``interval`` seconds and once at the end, so a log never turns into a few
giant carriage-return lines (as tqdm's output does). Needs only the standard
library.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_rate"]

TTY_REFRESH_S = 0.2
LOG_INTERVAL_S = 10.0


def format_rate(count: float, seconds: float, unit: str) -> str:
    """``12.3 img/s`` (or ``0.45 s/img`` when slower than one per second)."""
    if seconds <= 0 or count <= 0:
        return f"? {unit}/s"
    rate = count / seconds
    return f"{rate:.1f} {unit}/s" if rate >= 1 else f"{1 / rate:.2f} s/{unit}"


class Progress:
    """Counts work done out of ``total`` and reports ``desc: done/total unit (pct), rate, eta``.

    Use as a context manager; ``update(n)`` after each piece of work,
    ``note(text)`` to append a short status (e.g. the current loss).
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", enabled: bool = True,
                 stream: TextIO | None = None, interval: float = LOG_INTERVAL_S) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = TTY_REFRESH_S if self.tty else interval
        self.done = 0
        self.extra = ""
        self.start = time.perf_counter()
        self._last = self.start
        self._closed = False
        self._shown = -1  # ``done`` at the last complete line printed to a log

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def line(self) -> str:
        """The current status line (without a line end)."""
        elapsed = time.perf_counter() - self.start
        parts = [f"{self.desc}: {self.done}"]
        if self.total:
            parts[0] += f"/{self.total} {self.unit} ({100 * self.done / self.total:.0f} %)"
        else:
            parts[0] += f" {self.unit}"
        parts.append(format_rate(self.done, elapsed, self.unit))
        if self.total and 0 < self.done < self.total and elapsed > 0:
            parts.append(f"eta {(self.total - self.done) * elapsed / self.done:.0f} s")
        else:
            parts.append(f"{elapsed:.1f} s")
        if self.extra:
            parts.append(self.extra)
        return ", ".join(parts)

    def _emit(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else "\x1b[K"))
        elif final and self._shown == self.done:
            return  # a log already has this count's line: the final one would repeat it
        else:
            self.stream.write(self.line() + "\n")
            self._shown = self.done
        self.stream.flush()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; print when the refresh interval has passed."""
        self.done += n
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._emit()

    def note(self, text: str) -> None:
        """Set the short status shown after the rate."""
        self.extra = text

    def close(self) -> None:
        """Print the final line (once)."""
        if not self._closed:
            self._closed = True
            self._emit(final=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start
