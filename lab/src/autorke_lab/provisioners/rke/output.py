"""rke's console output: logrus-style ``INFO[0003] message`` lines, seconds since start,
so logs of the stand-in read like those of the real tool (and nothing secret is printed)."""
from __future__ import annotations

import sys
import threading
import time


class Console:
    def __init__(self, stream=None) -> None:
        self._stream = stream or sys.stdout
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def _line(self, level: str, message: str) -> None:
        elapsed = int(time.monotonic() - self._start)
        with self._lock:
            print(f"{level}[{elapsed:04d}] {message}", file=self._stream, flush=True)

    def info(self, message: str) -> None:
        self._line("INFO", message)

    def warn(self, message: str) -> None:
        self._line("WARN", message)

    def fatal(self, message: str) -> None:
        self._line("FATA", message)
