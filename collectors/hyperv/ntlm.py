"""The NTLM secret handed to pywinrm: the password's "LM:NT" hash pair, computed once per connection.

pywinrm authenticates NTLM through requests-ntlm, which, given a user name and a password, always
uses pyspnego's pure-Python NTLM (``NegotiateOptions.use_ntlm``: requests-ntlm#136), never SSPI or
GSSAPI. That code derives the LM and NT hashes from the password at every handshake
(``_NTLMCredential``: ``lmowfv1``, ``ntowfv1``), and every Hyper-V run that does not keep its
connection (polls 30 s or more apart, collectors/hyperv/transport.py) makes a handshake: the LM
hash alone is two pure-Python DES operations, ~1 ms of CPU a run, 2.3 % of a saturated P4
exporter's samples (bench/README.md, sixth round).

pyspnego accepts the pair of hashes in place of the password ("LM:NT", 32 hex digits each: its
``is_ntlm_hash``) and then uses them as they are; the pair is what pyspnego would derive itself,
so the messages on the wire are the same. The pair is as good as the password to an attacker
(pass-the-hash): it lives where the password lived, in the ``WinRMSettings`` of one connection,
and is never logged. Any other auth keeps the password (Kerberos and CredSSP need it).
Sources in docs/hyperv.md ("NTLM hashes computed once").
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

try:  # pyspnego's own derivations (a private module: without it, the password goes as it is)
    from spnego._ntlm_raw.crypto import is_ntlm_hash, lmowfv1, ntowfv1
except ImportError:  # pragma: no cover - depends on the installed pyspnego
    is_ntlm_hash = lmowfv1 = ntowfv1 = None  # type: ignore[assignment]


def ntlm_secret(password: str) -> str:
    """``password`` as pyspnego's "LM:NT" hash pair (unchanged if it already is one, or if this
    pyspnego has no such derivations)."""
    if lmowfv1 is None or ntowfv1 is None or is_ntlm_hash is None:
        log.debug("pyspnego offers no NTLM hash derivation; the password is hashed per handshake")
        return password
    if is_ntlm_hash(password):
        return password
    return f"{lmowfv1(password).hex()}:{ntowfv1(password).hex()}"
