"""Dead peers for the estate bench, in their own process: ``python bench/scale/peers.py --count N``.

Opens N listening sockets that accept every connection and then never send a byte (a hung
management service: the TCP handshake succeeds, TLS and HTTP never answer). Prints one
``hung: <port>`` line per socket, then holds every accepted connection until SIGTERM. One
thread, a selector: the peer itself costs nothing while it hangs its clients.
"""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    sel = selectors.DefaultSelector()
    for _ in range(args.count):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, 0))
        listener.listen(128)
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ)
        print(f"hung: {listener.getsockname()[1]}", flush=True)
    held: list[socket.socket] = []
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            listener = key.fileobj
            assert isinstance(listener, socket.socket)
            try:
                conn, _addr = listener.accept()
            except BlockingIOError:
                continue
            held.append(conn)  # never read, never answered; closed only by the client
        # Forget connections the client has given up on, so the process stays small.
        if len(held) > 1000:
            held = [c for c in held if _alive(c)]
    return 0


def _alive(conn: socket.socket) -> bool:
    try:
        conn.setblocking(False)
        data = conn.recv(65536, socket.MSG_PEEK)
        if data == b"":
            conn.close()
            return False
    except BlockingIOError:
        pass
    except OSError:
        conn.close()
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
