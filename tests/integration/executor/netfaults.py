"""Network faults between the executor and a real lab machine that sshd cannot make by
itself, made by a TCP relay in front of the machine's sshd (the machine, its sshd and its
host key are the real ones; the relay only forwards bytes, or stops forwarding them):

- ``dark_after_exec``: the connection goes dark the moment the executor has asked to run
  its command. The request reaches the machine (which runs it); nothing the machine sends
  comes back, not even the answer to the request: a host that hangs in the middle of a
  session, or a network that partitions there.
- ``idle_cut_s``: a middlebox (NAT, firewall) that drops a connection on which nothing
  has passed, either way, for that many seconds.

To find "asked to run its command" the relay frames the client's SSH packets: the version
line, the clear-text key exchange packets up to NEWKEYS, then, under the executor's
``aes128-gcm@openssh.com`` (its first cipher), packets whose 4-byte length stays in clear.
The client's 4th encrypted packet is its ``exec`` request (service request, user auth,
channel open, exec); the tests check that the machine did receive the command.
"""
from __future__ import annotations

import select
import socket
import threading
import time

NEWKEYS = 21
GCM_TAG = 16
EXEC_PACKET = 4  # service request, userauth request, channel open, channel request "exec"


class ClientPackets:
    """Counts the encrypted packets of a client's stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._stage = "version"
        self.encrypted = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            if self._stage == "version":
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return
                line, self._buf = bytes(self._buf[:end]), self._buf[end + 2:]
                if line.startswith(b"SSH-"):
                    self._stage = "clear"
                continue
            if len(self._buf) < 4:
                return
            length = int.from_bytes(self._buf[:4], "big")
            size = 4 + length + (GCM_TAG if self._stage == "encrypted" else 0)
            if len(self._buf) < size:
                return
            packet, self._buf = bytes(self._buf[:size]), self._buf[size:]
            if self._stage == "clear":
                if packet[5] == NEWKEYS:  # length, padding length, message type
                    self._stage = "encrypted"
            else:
                self.encrypted += 1


class Relay:
    """Listens on 127.0.0.1 (``address``, ``port``) and relays each connection to ``upstream``."""

    def __init__(self, upstream: tuple[str, int], *, dark_after_exec: bool = False,
                 idle_cut_s: float | None = None) -> None:
        self.upstream = upstream
        self.dark_after_exec = dark_after_exec
        self.idle_cut_s = idle_cut_s
        self.went_dark = threading.Event()
        self.cuts = 0
        self.connections = 0
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address, self.port = self._listener.getsockname()
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="relay-accept")]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
                self.connections += 1
            t = threading.Thread(target=self._pump, args=(client, server), daemon=True, name="relay-pump")
            self._threads.append(t)
            t.start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        packets = ClientPackets()
        dark = False
        last = time.monotonic()
        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.05)
                if self.idle_cut_s is not None and time.monotonic() - last > self.idle_cut_s:
                    with self._lock:
                        self.cuts += 1
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    last = time.monotonic()
                    if sock is client:
                        packets.feed(data)
                        if self.dark_after_exec and packets.encrypted >= EXEC_PACKET and not dark:
                            dark = True  # before the request goes on: its answer never comes back
                            self.went_dark.set()
                        server.sendall(data)
                    elif not dark:
                        client.sendall(data)
        except OSError:
            return
        finally:
            for s in (client, server):
                s.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        for t in self._threads:
            t.join(5)
