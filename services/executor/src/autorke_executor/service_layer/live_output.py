"""Live output of a running job: chunks from many hosts' threads become whole lines,
collected until the job's writer turns them into ``executor.target.output`` events.

Streaming is capped per host (the full, capped output is kept in the target's result
anyway) so that one chatty host cannot flood the event stream."""
from __future__ import annotations

import threading

STREAM_CAP_PER_HOST = 64 * 1024
LINE_CAP = 4096


class LiveOutput:
    def __init__(self, cap_per_host: int = STREAM_CAP_PER_HOST) -> None:
        self._lock = threading.Lock()
        self._partial: dict[tuple[str, str], str] = {}
        self._sent: dict[str, int] = {}
        self._lines: list[dict] = []
        self.cap = cap_per_host

    def sink(self, host: str, quiet: bool = False):
        """A callback for one host's chunks; ``quiet`` keeps them out of the live log
        (machine-readable output such as facts JSON)."""
        def feed(stream: str, chunk: bytes) -> None:
            if quiet or self._sent.get(host, 0) >= self.cap:  # a flood past the cap is not even decoded
                return
            self.feed(host, stream, chunk.decode("utf-8", "replace"))
        return feed

    def feed(self, host: str, stream: str, text: str) -> None:
        with self._lock:
            if self._sent.get(host, 0) >= self.cap:
                return
            key = (host, stream)
            buf = self._partial.get(key, "") + text
            *whole, rest = buf.split("\n")
            self._partial[key] = rest[-LINE_CAP:]
            for line in whole:
                self._add(host, stream, line)

    def _add(self, host: str, stream: str, line: str) -> None:
        sent = self._sent.get(host, 0)
        if sent >= self.cap:
            return
        line = line.rstrip("\r")[:LINE_CAP]
        self._sent[host] = sent + len(line) + 1
        if self._sent[host] >= self.cap:
            line += " [live output capped]"
        self._lines.append({"host": host, "stream": stream, "line": line})

    def close_host(self, host: str) -> None:
        """Flush a finished host's last partial line."""
        with self._lock:
            for stream in ("stdout", "stderr"):
                rest = self._partial.pop((host, stream), "")
                if rest:
                    self._add(host, stream, rest)

    def drain(self, max_lines: int = 500) -> list[dict]:
        with self._lock:
            out, self._lines = self._lines[:max_lines], self._lines[max_lines:]
            return out
