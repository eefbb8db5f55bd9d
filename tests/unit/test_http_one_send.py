"""A response leaves in one send (headers + body, exporter/http.py ``_send_all``): the bytes on the
wire are the same, also when the kernel takes only part of them at once."""

from __future__ import annotations

import socket
import threading

from exporter.http import _send_all


def read_all(sock: socket.socket, into: list[bytes]) -> None:
    while chunk := sock.recv(65536):
        into.append(chunk)


def test_partial_sends_still_deliver_every_byte_in_order() -> None:
    server, client = socket.socketpair()
    # A tiny send buffer: sendmsg takes only part of a 3 MB body, the rest goes by sendall.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    got: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(client, got))
    reader.start()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n"
    body = bytes(range(256)) * (3_000_000 // 256) + b"x" * (3_000_000 % 256)
    _send_all(server, head, body)
    _send_all(server, b"HTTP/1.1 204 No Content\r\n\r\n", b"")  # HEAD, or an empty body
    server.shutdown(socket.SHUT_WR)
    reader.join(10)
    server.close()
    client.close()
    assert b"".join(got) == head + body + b"HTTP/1.1 204 No Content\r\n\r\n"
