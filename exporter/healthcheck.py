"""``ndo-exporter healthcheck``: a liveness probe for container HEALTHCHECKs and exec probes.

Asks ``/-/healthy`` of the exporter this configuration describes (listen address, scheme from the
web config file) or of ``--url``. It answers "alive" for ``200``, and also for ``401``: with basic
auth on, the probe has no password (the web config holds only hashes), and a 401 proves the HTTP
server and its auth layer answer. When the web config requires client certificates, a TLS
handshake the server refuses for want of one counts as alive for the same reason. An ``http://``
URL that meets a TLS listener (the exporter answers 400, as Go's servers do) is retried over
``https://``, so a container's HEALTHCHECK needs only the port.

The server certificate is not verified: this checks liveness on loopback, not identity.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import ssl
import sys
from urllib.parse import urlsplit

from exporter.config import ConfigError, load_config, split_listen_address

ALIVE = (200, 401)


def base_url(args: argparse.Namespace) -> tuple[str, bool]:
    """(base URL, client certificates required) from ``--url`` or ``--config`` (+ web config)."""
    if args.url:
        return args.url, False
    if not args.config:
        return "http://127.0.0.1:9940/", False
    config = load_config(args.config)
    host, port = split_listen_address(config.web.listen_address)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    web_file = args.web_config_file or config.web.config_file
    if not web_file:
        return f"http://{shown}:{port}/", False
    from exporter.webconfig import load_web_config

    web = load_web_config(web_file)
    tls = web.file.tls_server_config
    scheme = "https" if web.tls is not None else "http"
    return f"{scheme}://{shown}:{port}/", tls.verify_mode == ssl.CERT_REQUIRED


def probe(url: str, timeout: float, client_cert_required: bool = False) -> tuple[bool, str]:
    ok, message, status = _probe_once(url, timeout, client_cert_required)
    if status == 400 and url.startswith("http://"):
        return _probe_once("https://" + url[len("http://"):], timeout, client_cert_required)[:2]
    return ok, message


def _probe_once(url: str, timeout: float, client_cert_required: bool) -> tuple[bool, str, int | None]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
    path = (parts.path.rstrip("/") or "") + "/-/healthy"
    try:
        conn.request("GET", path, headers={"User-Agent": "ndo-exporter-healthcheck"})
        status = conn.getresponse().status
    except ssl.SSLError as exc:
        if client_cert_required or "CERTIFICATE_REQUIRED" in str(exc.reason):
            why = f"alive: the TLS server refused the handshake without a client certificate ({exc.reason})"
            return True, why, None
        return False, f"TLS error: {exc.reason or exc}", None
    except OSError as exc:
        return False, f"cannot reach {url}: {exc.strerror or exc}", None
    finally:
        conn.close()
    if status in ALIVE:
        return True, f"alive: /-/healthy answered {status}", status
    return False, f"/-/healthy answered {status}", status


def main(args: argparse.Namespace) -> int:
    logging.disable(logging.WARNING)  # config warnings (tls.verify false) are not this probe's business
    try:
        url, cert_required = base_url(args)
    except (ConfigError, ValueError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 2
    ok, message = probe(url, args.timeout, cert_required)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
