"""Does a server answer a request before its body is sent? Over a raw socket, so nothing
(no client library) buffers or sends the body behind our back."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

TEN_MB = 10 * 1024 * 1024


@dataclass
class EarlyAnswer:
    status: int
    headers: dict[str, str]
    problem: dict[str, Any]


def answer_before_body(
    url: str,
    path: str,
    headers: dict[str, str],
    *,
    length: int = TEN_MB,
    sent: int = 1024,
    method: str = "POST",
) -> EarlyAnswer:
    """Send the head of a request announcing `length` bytes, only `sent` of them, and read
    the answer: it must come without the rest of the body."""
    host, port = url.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
    head += "Content-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode() + b"\r\n" + b"x" * sent)
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = conn.recv(65536)  # a timeout here: the server waits for the body
            if not chunk:
                break
            raw += chunk
        top, _, rest = raw.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        answer_headers = {
            k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])
        }
        size = int(answer_headers.get("content-length", "0"))
        while len(rest) < size:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    status = int(lines[0].split()[1])
    problem = (
        json.loads(rest) if answer_headers.get("content-type") == "application/problem+json" else {}
    )
    return EarlyAnswer(status, answer_headers, problem)
