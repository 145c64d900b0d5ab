"""Progress bars: tqdm's when it is installed, otherwise a plain text line that does the same job."""

from __future__ import annotations

import math
import sys
import time

from .optional import is_available


def progress_bar(iterable=None, **options):
    """`tqdm(iterable, **options)`, or a `PlainProgress` with the same options when tqdm is not installed."""
    if is_available("tqdm"):
        from tqdm import tqdm

        return tqdm(iterable, **options)
    return PlainProgress(iterable, **options)


class PlainProgress:
    """The part of tqdm that tensorgrad uses (iterate or `update`, `set_postfix`, a context manager), shown
    as one line of text rewritten in place, at most every `interval` seconds and once at the end.

    `disable=None` shows it only on a terminal, as tqdm does; `leave=False` erases it when done.
    """

    def __init__(
        self,
        iterable=None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        unit_scale: bool = False,
        unit_divisor: int = 1000,
        file=None,
        disable: bool | None = False,
        leave: bool = True,
        interval: float = 0.5,
        **_tqdm_only,  # display options of tqdm's (dynamic_ncols, ...) that a plain line has no use for
    ):
        self.iterable = iterable
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit = total, desc, unit
        self.unit_scale, self.unit_divisor = unit_scale, unit_divisor
        self.file = file if file is not None else sys.stderr
        if disable is None:
            disable = not getattr(self.file, "isatty", lambda: False)()
        self.disable, self.leave, self.interval = disable, leave, interval
        self.n = 0
        self.postfix = ""
        self._shown_at = -math.inf
        self._width = 0  # of the line on screen, so that a shorter one overwrites all of it

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if not self.disable and (now - self._shown_at >= self.interval or self.n == self.total):
            self._shown_at = now
            self._show()

    def set_postfix(self, values: dict, refresh: bool = True) -> None:
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())
        if refresh and not self.disable:
            self._show()

    def close(self) -> None:
        if self.disable or not self._width:
            return
        self.file.write("\n" if self.leave else "\r" + " " * self._width + "\r")
        self.file.flush()
        self._width = 0

    def line(self) -> str:
        """The text shown: `desc: n/total unit, postfix` (`12.3MiB/25.0MiB` with `unit_scale`)."""
        if self.unit_scale:
            done = "/".join(self._scaled(n) for n in (self.n, self.total) if n is not None)
        else:
            done = str(self.n) + (f"/{self.total}" if self.total is not None else "") + f" {self.unit}"
        text = f"{self.desc}: {done}" if self.desc else done
        return f"{text}, {self.postfix}" if self.postfix else text

    def _show(self) -> None:
        line = self.line()
        self.file.write("\r" + line.ljust(self._width))
        self.file.flush()
        self._width = max(self._width, len(line))

    def _scaled(self, n: float) -> str:
        """`n` with a k/M/G prefix (Ki/Mi/Gi for a divisor of 1024) and the unit: 12.3MiB."""
        if abs(n) < self.unit_divisor:
            return f"{n}{self.unit}"
        binary = "i" if self.unit_divisor == 1024 else ""
        for prefix in "kMG":
            n /= self.unit_divisor
            if abs(n) < self.unit_divisor or prefix == "G":
                break
        return f"{n:.1f}{prefix.upper() if binary else prefix}{binary}{self.unit}"
