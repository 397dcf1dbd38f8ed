"""Which PostgreSQL the suite uses: the given URL first, then a testcontainers container
when a Docker engine answers, else SQLite; and how an engine is found."""
from __future__ import annotations

import socket
import threading

from fixtures.database_source import choose, docker_answers


def test_a_given_url_wins_over_an_engine():
    source = choose({"AUTORKE_TEST_DATABASE_URL": "postgresql://x/y"}, engine=lambda: True,
                    have_testcontainers=lambda: True)
    assert (source.kind, source.url) == ("url", "postgresql://x/y")
    assert "AUTORKE_TEST_DATABASE_URL" in source.header()


def test_an_engine_without_a_url_starts_a_container_and_none_means_sqlite():
    assert choose({}, engine=lambda: True, have_testcontainers=lambda: True).kind == "testcontainers"
    assert choose({}, engine=lambda: False, have_testcontainers=lambda: True).kind == "sqlite"
    assert choose({}, engine=lambda: True, have_testcontainers=lambda: False).kind == "sqlite"


def test_an_engine_is_one_that_answers_its_ping(tmp_path):
    assert not docker_answers({}, socket_path=tmp_path / "missing.sock")
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(256)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nOK")
        conn.close()
    threading.Thread(target=answer, daemon=True).start()
    assert docker_answers({"DOCKER_HOST": f"unix://{path}"})
    server.close()
    assert not docker_answers({"DOCKER_HOST": f"unix://{path}"}), "a socket nobody serves is no engine"
