"""vSphere tags (vAPI tagging service): which VMs carry the tags the Exchange selector names.

Tags are not ManagedObject properties, so the PropertyCollector cannot return them; vCenter serves
them over its REST API (``/rest/com/vmware/cis/...``, vCenter 6.5+, still served by 8.0 next to
``/api``; vcsim implements the same paths). Read only when the selector has ``tags`` patterns:

1. ``GET tagging/tag`` lists the tag ids; each tag's name and category are fetched once and cached
   for ``CACHE_SECONDS`` (a tag is renamed rarely; a new tag is picked up at the next list);
2. the tags whose ``name`` or ``category:name`` match a pattern are resolved to the objects they
   are attached to with ONE batch call, ``tag-association?~action=list-attached-objects-on-tags``.

Steady state: two requests per cycle. The REST session (``vmware-api-session-id``) is kept across
cycles and re-created on 401. Failures raise ``CollectionError``: when tags select Exchange guests,
a silent gap would drop those guests' findings and resolve their alerts, so the cycle fails and the
exporter keeps serving the last good data, flagged stale.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import requests

from collectors.errors import CollectionError

CACHE_SECONDS = 600.0
_BASE = "/rest/com/vmware/cis"


@dataclass(frozen=True)
class TagInfo:
    name: str
    category: str

    def labels(self) -> tuple[str, str]:
        """How a tag is matched and reported: ``name`` and ``category:name``."""
        return self.name, f"{self.category}:{self.name}"


class TagReader:
    def __init__(self, origin: str, username: str, password: str, verify: bool | str,
                 connect_timeout: float, read_timeout: float) -> None:
        self._origin = origin
        self._auth = (username, password)
        self._verify = verify
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._http = requests.Session()
        self._token: str | None = None
        self._tags: dict[str, tuple[float, TagInfo]] = {}
        self._categories: dict[str, tuple[float, str]] = {}
        self.requests = 0

    def close(self) -> None:
        if self._token is not None:
            with suppress(requests.RequestException):
                self._http.delete(
                    self._origin + _BASE + "/session", headers=self._headers(), timeout=2.0, verify=self._verify
                )
        self._token = None
        self._http.close()

    # -- HTTP ----------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"vmware-api-session-id": self._token} if self._token else {}

    def _timeout(self, deadline: float) -> tuple[float, float]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CollectionError("timeout", f"collection deadline passed before reading the tags of {self._origin}")
        return min(self._connect_timeout, remaining), min(self._read_timeout, remaining)

    def _send(self, method: str, path: str, deadline: float, body: Any = None, auth: bool = False) -> Any:
        url = self._origin + _BASE + path
        try:
            resp = self._http.request(
                method, url, json=body, headers=self._headers(), timeout=self._timeout(deadline),
                verify=self._verify, auth=self._auth if auth else None,
            )
            self.requests += 1
        except requests.exceptions.SSLError as exc:
            raise CollectionError("tls", f"TLS failure talking to {self._origin} (tagging API): "
                                  f"{str(exc).splitlines()[0][:200]}") from None
        except requests.exceptions.Timeout:
            what = f"{method} {_BASE}{_path(path)}"
            raise CollectionError("timeout", f"{what} on {self._origin}: no answer in time") from None
        except requests.exceptions.RequestException as exc:
            why = type(exc).__name__
            raise CollectionError("connect", f"cannot reach the tagging API of {self._origin}: {why}") from None
        return resp

    def _json(self, resp: requests.Response, what: str) -> Any:
        if resp.status_code == 401:
            raise CollectionError("auth", f"{what} on {self._origin}: 401 (tagging API login refused or expired)")
        if resp.status_code == 403:
            raise CollectionError("forbidden", f"{what} on {self._origin}: 403 (the role lacks tag read privileges)")
        if resp.status_code >= 400:
            raise CollectionError("http_status", f"{what} on {self._origin}: HTTP {resp.status_code}")
        try:
            return resp.json()["value"]
        except (ValueError, KeyError, TypeError):
            raise CollectionError("malformed", f"{what} on {self._origin}: not the tagging API's JSON") from None

    def _login(self, deadline: float) -> None:
        self._token = None
        token = self._json(self._send("POST", "/session", deadline, auth=True), "tagging API login")
        if not isinstance(token, str) or not token:
            raise CollectionError("malformed", f"tagging API login on {self._origin}: no session token")
        self._token = token

    def _request(self, method: str, path: str, deadline: float, body: Any = None) -> Any:
        if self._token is None:
            self._login(deadline)
        resp = self._send(method, path, deadline, body)
        if resp.status_code == 401:  # the REST session expired: one new login, one retry
            self._login(deadline)
            resp = self._send(method, path, deadline, body)
        return self._json(resp, f"{method} {_BASE}{_path(path)}")

    # -- tags ----------------------------------------------------------------------------------
    def _tag(self, tag_id: str, deadline: float, now: float) -> TagInfo:
        cached = self._tags.get(tag_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        value = self._request("GET", f"/tagging/tag/id:{tag_id}", deadline)
        if not isinstance(value, dict):
            raise CollectionError("malformed", f"GET {_BASE}/tagging/tag/id:{tag_id} on {self._origin}: not an object")
        category = self._category(str(value.get("category_id", "")), deadline, now)
        info = TagInfo(str(value.get("name", "")), category)
        self._tags[tag_id] = (now, info)
        return info

    def _category(self, category_id: str, deadline: float, now: float) -> str:
        if not category_id:
            return ""
        cached = self._categories.get(category_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        value = self._request("GET", f"/tagging/category/id:{category_id}", deadline)
        name = str(value.get("name", "")) if isinstance(value, dict) else ""
        self._categories[category_id] = (now, name)
        return name

    def vm_tags(self, patterns: Sequence[str], deadline: float) -> Mapping[str, tuple[str, ...]]:
        """VM moid -> the labels (``name``, ``category:name``) of its tags that match a pattern."""
        now = time.monotonic()
        ids = self._request("GET", "/tagging/tag", deadline)
        if ids is None:  # vcsim writes a nil list as null when no tag exists
            ids = []
        if not isinstance(ids, list):
            raise CollectionError("malformed", f"GET {_BASE}/tagging/tag on {self._origin}: not a list")
        lowered = [p.lower() for p in patterns]
        wanted: dict[str, TagInfo] = {}
        for tag_id in ids:
            info = self._tag(str(tag_id), deadline, now)
            if any(fnmatch.fnmatchcase(label.lower(), p) for label in info.labels() for p in lowered):
                wanted[str(tag_id)] = info
        if not wanted:
            return {}
        attached = self._request(
            "POST", "/tagging/tag-association?~action=list-attached-objects-on-tags", deadline,
            {"tag_ids": sorted(wanted)},
        )
        out: dict[str, list[str]] = {}
        for entry in attached if isinstance(attached, list) else ():
            tag = wanted.get(str(entry.get("tag_id", "")))
            if tag is None:
                continue
            for obj in entry.get("object_ids") or ():
                if obj.get("type") == "VirtualMachine" and obj.get("id"):
                    out.setdefault(str(obj["id"]), []).extend(tag.labels())
        return {moid: tuple(dict.fromkeys(labels)) for moid, labels in out.items()}


def _path(path: str) -> str:
    return path.split("?", 1)[0]
