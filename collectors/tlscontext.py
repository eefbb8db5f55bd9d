"""One TLS client context per CA bundle, shared by every HTTPS connection that trusts it.

requests hands urllib3 the CA bundle as a path (``verify=True`` means certifi's bundle,
``requests.utils.DEFAULT_CA_BUNDLE_PATH``; a string is the configured ``ca_file``), and urllib3
then builds a new ``SSLContext`` and parses that bundle at *every new connection*
(``ssl_wrap_socket``: ``context.load_verify_locations(ca_certs)``). Measured on the CI kind of
machine: ~0.85 ms for a one-certificate ``ca_file``, ~32 ms for certifi's ~140 certificates
(bench/README.md, eighth round). ONTAP jobs at 60 s close their connection after each run
(exporter/ontap_source.py) and pywinrm opens a new one every run, so at the P4 estate (2,000 jobs
a minute) the default ``verify: true`` alone would cost about a core.

A context holds only the trust anchors and the defaults urllib3 itself would give
(``create_urllib3_context`` with ``CERT_REQUIRED``); hostname checks stay urllib3's, per
connection. The bundle's file is looked at again (``os.stat``) when a connection pool is chosen:
a rotated or edited bundle (new mtime, size or inode) gets a new context, so trust follows the
file as before. A bundle that cannot be read gets no shared context: urllib3 then loads it itself
and fails with the error it always gave. Client certificates are never put in a shared context.
"""

from __future__ import annotations

import logging
import os
import ssl
import stat
import threading
from typing import Any

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

log = logging.getLogger(__name__)

_lock = threading.Lock()
# bundle path -> ((mtime_ns, size, inode) when loaded, its context)
_contexts: dict[str, tuple[tuple[int, int, int], ssl.SSLContext]] = {}


def client_context(verify: bool | str | None) -> ssl.SSLContext | None:
    """The shared context for requests' ``verify`` value; None when there is none to share
    (no verification, or a bundle that cannot be read: urllib3 reports that one itself)."""
    if verify is None or verify is False:
        return None
    path = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    try:
        st = os.stat(path)
    except OSError:
        return None
    version = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _lock:
        held = _contexts.get(path)
        if held is not None and held[0] == version:
            return held[1]
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    try:
        if stat.S_ISDIR(st.st_mode):
            context.load_verify_locations(capath=path)
        else:
            context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        log.debug("CA bundle %s not shared: %s", path, exc)
        return None
    with _lock:
        _contexts[path] = (version, context)
    return context


def share_contexts(session: Any) -> None:
    """Make every HTTPS adapter of a requests ``session`` use the shared context of the
    ``verify`` each request carries, instead of loading the bundle per connection.

    Instance hooks on the adapter (as collectors/netguard.py installs its own), not a subclass:
    thousands of sessions must not mean thousands of classes."""
    for adapter in session.adapters.values():
        _hook(adapter)


def _hook(adapter: Any) -> None:
    pool_key = adapter.build_connection_pool_key_attributes
    cert_verify = adapter.cert_verify

    def shared_pool_key(request: Any, verify: Any, cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = pool_key(request, verify, cert)
        context = client_context(verify) if host_params.get("scheme") == "https" and not cert else None
        if context is not None:
            # The pool's connections wrap with this context; without a bundle path urllib3 loads nothing.
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs

    def shared_cert_verify(conn: Any, url: str, verify: Any, cert: Any) -> None:
        cert_verify(conn, url, verify, cert)  # checks the bundle exists, sets CERT_REQUIRED
        # Only a pool shared_pool_key gave a context (HTTPS, no client certificate) has one.
        if (getattr(conn, "conn_kw", None) or {}).get("ssl_context") is not None:
            # requests sets the bundle path on the pool for every request: urllib3 would load it
            # into the shared context again at each new connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None

    adapter.build_connection_pool_key_attributes = shared_pool_key
    adapter.cert_verify = shared_cert_verify
