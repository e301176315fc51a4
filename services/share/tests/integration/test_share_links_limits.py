"""The links listener's limits on the real share api: a request's head, its deadline,
idle connections and the number of connections, each set small so that the tests take
seconds. Raw sockets, because no well-behaved client breaks these limits."""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from support import ServiceProcess, free_port, ref

MAX_CONNECTIONS = 16
HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    suffix = ref("")
    links_port = free_port()
    env = {
        "SHARE_DATABASE": f"chorus_share_it_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-it-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
        "SHARE_LINKS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "SHARE_LINKS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "SHARE_LINKS_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT),
    }
    process = ServiceProcess("share", "api", env=env, links_port=links_port)
    process.start(tmp_path_factory.mktemp("share-links-limits"))
    try:
        process.wait_healthy()
        yield process
    finally:
        process.stop()


def _connect(api: ServiceProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", api.links_port), timeout=10)


def _click(code: str = "Unknown1") -> bytes:
    return f"GET /l/{code} HTTP/1.1\r\nHost: go.example.com\r\n\r\n".encode()


def _answer(sock: socket.socket) -> bytes:
    """One answer: its head and the body its content-length announces."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (an end of stream or a reset)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_one_header_of_a_megabyte_in_small_pieces_is_a_431_after_a_few_kilobytes(api) -> None:
    started = time.monotonic()
    sock = _connect(api)
    sock.sendall(b"GET /l/Unknown1 HTTP/1.1\r\nHost: go.example.com\r\nX-Padding: ")
    answer = b""
    sent = 0
    try:
        while sent < 1024 * 1024 and b"\r\n\r\n" not in answer:
            sock.sendall(b"a" * 1024)
            sent += 1024
            while select.select([sock], [], [], 0)[0]:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            time.sleep(0.0005)  # one piece per read, as a slow sender's would arrive
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed by the server while we were still sending: the answer is out already
    answer += sock.recv(65536) if b"\r\n\r\n" not in answer else b""
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert b"content-type: application/problem+json" in answer
    assert b'"detail":"headers:' in answer
    # Cut off near the cap (16 KiB), not after the whole megabyte.
    assert sent < 256 * 1024, sent
    assert _closed(sock)
    assert time.monotonic() - started < 5
    sock.close()

    # And the process went on answering clicks.
    with _connect(api) as other:
        other.sendall(_click())
        assert _answer(other).startswith(b"HTTP/1.1 404 Not Found\r\n")
    metrics = httpx.get(api.ops_url + "/metrics", timeout=10).text
    assert 'chorus_share_links_refused_total{limit="headers"} 1.0' in metrics


def test_too_many_headers_are_a_431(api) -> None:
    headers = "".join(f"X-H{i}: v\r\n" for i in range(150))
    with _connect(api) as sock:
        sock.sendall(f"GET /l/Unknown1 HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        assert _answer(sock).startswith(b"HTTP/1.1 431 ")
        assert _closed(sock)


def test_bare_crlfs_do_not_keep_a_connection_open(api) -> None:
    with _connect(api) as sock:
        opened = time.monotonic()
        while time.monotonic() - opened < IDLE_TIMEOUT + 6:
            try:
                sock.sendall(b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0.2)[0]:
                assert _closed(sock)  # closed without a word: there was no request
                break
        else:
            pytest.fail("a connection sending only CRLFs was never closed")
        assert time.monotonic() - opened < IDLE_TIMEOUT + 2


def test_a_request_that_trickles_in_gets_408_at_its_deadline(api) -> None:
    with _connect(api) as sock:
        opened = time.monotonic()
        try:
            for byte in b"GET /l/Unknown1 HTTP/1.1\r\nHost: go.example.com\r\n":
                sock.sendall(bytes([byte]))
                if select.select([sock], [], [], 0.1)[0]:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
        assert b"content-type: application/problem+json" in answer
        assert _closed(sock)
        assert time.monotonic() - opened < HEADER_TIMEOUT + 2


def test_a_keep_alive_client_is_answered_while_it_keeps_asking(api) -> None:
    with _connect(api) as sock:
        for _ in range(4):
            sock.sendall(_click())
            answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
            assert b"connection: close" not in answer
            time.sleep(IDLE_TIMEOUT / 3)
        # Then, left idle, it is closed.
        assert _closed(sock)


def test_connections_over_the_cap_are_closed_at_once(api) -> None:
    def counted() -> float:
        metrics = httpx.get(api.ops_url + "/metrics", timeout=10).text
        found = re.search(r'chorus_share_links_refused_total\{limit="connections"\} (\S+)', metrics)
        return float(found.group(1)) if found else 0.0

    before = counted()
    with ExitStack() as held:
        open_ones = [held.enter_context(_connect(api)) for _ in range(MAX_CONNECTIONS)]
        for sock in open_ones:
            sock.sendall(_click())
            assert _answer(sock).startswith(b"HTTP/1.1 404 ")
        with _connect(api) as extra:
            try:
                extra.sendall(_click())
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert _closed(extra)  # no answer: closed before anything was read
        assert counted() == before + 1

        # One fewer, and a new connection is served again.
        open_ones.pop().close()
        deadline = time.monotonic() + 5
        while True:
            with _connect(api) as again:
                try:
                    again.sendall(_click())
                    if _answer(again).startswith(b"HTTP/1.1 404 "):
                        break
                except ConnectionResetError:
                    pass
            assert time.monotonic() < deadline, "no connection accepted after one closed"
            time.sleep(0.1)
