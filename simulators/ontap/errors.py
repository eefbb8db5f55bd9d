"""ONTAP's error body, as an exception the request handler turns into a response.

Shape per the REST reference: ``{"error": {"message", "code" (an integer in a JSON string),
"target"?}}`` (docs/dev/ontap-requests.md, "REST semantics").
"""

from __future__ import annotations

from typing import Any

# Generic ONTAP error codes used by the simulator (REST reference table, docs/dev/ontap-requests.md).
CODE_NOT_SUPPORTED = "3"
CODE_NOT_FOUND = "4"
CODE_PERMISSION = "6"
CODE_UNEXPECTED_ARGUMENT = "262179"
CODE_INVALID_FIELD_VALUE = "262197"
CODE_CLI_WILDCARD = "262220"


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.target = target

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.code, self.target)


def error_body(message: str, code: str, target: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "code": code}
    if target is not None:
        err["target"] = target
    return {"error": err}


def invalid_field(name: str) -> ApiError:
    # Wording as reported from a real cluster (AsBuiltReport.NetApp.ONTAP #23, docs/dev/ontap-requests.md).
    message = f'The value "{name}" is invalid for field "fields"'
    return ApiError(400, message, CODE_INVALID_FIELD_VALUE, "fields")


def unexpected_argument(name: str) -> ApiError:
    return ApiError(400, f'Unexpected argument "{name}".', CODE_UNEXPECTED_ARGUMENT, name)


def cli_wildcard() -> ApiError:
    message = "Wildcard fields=* is not allowed for CLI-based REST APIs."
    return ApiError(400, message, CODE_CLI_WILDCARD, "fields")


# Private-CLI error bodies a busy or feature-less cluster returns. Message and code as NetApp
# Harvest matches them (pkg/errs/ontap.go: TableNotFound "Table is not found" 8585320, CMReject
# "CM reject" 8585368; Harvest backs off 30-60 s on CM reject). The HTTP status of each is
# UNVERIFIED (docs/simulator.md, "Unverified spellings").
NAMED_ERRORS: dict[str, tuple[int, str, str]] = {
    "table_not_found": (400, "Table is not found", "8585320"),
    "cm_reject": (500, "CM reject", "8585368"),
}
