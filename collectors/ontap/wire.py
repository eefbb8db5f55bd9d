"""The two big collections' pages as typed records: decoded straight from the body, only the fields we read.

A 100k-file cluster sends ~40 MB of JSON a cycle. Parsed into dicts (orjson) every record is five
dicts, a dozen strings and the fields we never read (uuids, ``_links``, connection ids), all
tracked by the garbage collector, and the fold then pays a Python dict lookup per field per
record. msgspec decodes the same bytes into small structs holding only the declared fields
(unknown ones are skipped in C), validates their JSON types on the way, and the structs are not
tracked by the collector (``gc=False``: they hold strings, numbers and each other, never a
cycle). The folds then count whole pages with C-level iteration (``attrgetter`` + ``Counter``).
https://jcristharif.com/msgspec/structs.html (``gc``, ``frozen``, renamed fields),
https://jcristharif.com/msgspec/usage.html (unknown fields are ignored; type validation).

The types are deliberately the *well-formed* shape: names are JSON strings or null, enums strings
or null, counts integers. A page with anything else (a number where a name belongs, a session
count that is a string) fails to decode here, and the client falls back to the general JSON parse
and the field-by-field fold for that page, which gives the same answer or the error that names the
record (collectors/ontap/client.py, ``pages(typed=...)``; tests/unit/test_ontap_wire.py).

Field semantics are those of the REST reference (docs/ontap-semantics.md): open files
``/protocols/cifs/session/files`` (9.11+), sessions ``/protocols/cifs/sessions`` (9.8+).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
import orjson

log = logging.getLogger(__name__)


class Name(msgspec.Struct, frozen=True, gc=False):
    """An embedded reference such as ``"svm": {"name": "vs1", "uuid": ...}``: only its name."""

    name: str | None = None


NO_NAME = Name()


class SessionRef(msgspec.Struct, gc=False):
    identifier: int | str | None = None


class NextLink(msgspec.Struct, gc=False):
    href: str | None = None


class Links(msgspec.Struct, gc=False):
    next: NextLink | None = None


class OpenFile(msgspec.Struct, gc=False):
    """One record of ``/protocols/cifs/session/files`` as the files collector asks for it."""

    node: Name = NO_NAME
    svm: Name = NO_NAME
    volume: Name = NO_NAME
    share: Name = NO_NAME
    # The REST enum is "yes" | "no"; the fold reads it through parse.to_bool like any other spelling.
    continuously_available: str | bool | None = None
    path: str | None = None
    session: SessionRef | None = None


class Session(msgspec.Struct, gc=False):
    """One record of ``/protocols/cifs/sessions`` as the sessions collector asks for it."""

    node: Name = NO_NAME
    svm: Name = NO_NAME
    protocol: str | None = None
    continuous_availability: str | None = None
    authentication: str | None = None
    volumes: tuple[Name, ...] | None = None
    # A negative count is not well-formed: that page takes the field-by-field path.
    open_files: Annotated[int, msgspec.Meta(ge=0)] | None = None
    identifier: int | str | None = None
    user: str | None = None
    client_ip: str | None = None
    server_ip: str | None = None


class OpenFilesPage(msgspec.Struct, gc=False):
    records: list[OpenFile]
    links: Links | None = msgspec.field(name="_links", default=None)
    error: Any = None  # ONTAP's partial-answer error object, read as any JSON


class SessionsPage(msgspec.Struct, gc=False):
    records: list[Session]
    links: Links | None = msgspec.field(name="_links", default=None)
    error: Any = None


OPEN_FILES_PAGE = msgspec.json.Decoder(OpenFilesPage)
SESSIONS_PAGE = msgspec.json.Decoder(SessionsPage)

# Typed pages, decoded by one of the decoders above: what ``OntapClient.pages`` accepts.
TypedPage = OpenFilesPage | SessionsPage
TypedDecoder = msgspec.json.Decoder[OpenFilesPage] | msgspec.json.Decoder[SessionsPage]


def next_href(page: TypedPage) -> str | None:
    links = page.links
    nxt = links.next if links is not None else None
    href = nxt.href if nxt is not None else None
    return href or None


def decode_page(body: bytes, typed: TypedDecoder | None) -> Any:
    """A page as the typed records of ``typed`` when it has the well-formed shape, else as any
    JSON (dicts, for the field-by-field fold). Not JSON at all: orjson's ``JSONDecodeError``."""
    if typed is not None:
        try:
            return typed.decode(body)
        except msgspec.ValidationError as exc:
            log.debug("page read field by field: %s", exc)
        except (msgspec.DecodeError, RecursionError):
            pass  # not JSON, or nested past msgspec's depth: orjson says which, as for every other page
    return orjson.loads(body)
