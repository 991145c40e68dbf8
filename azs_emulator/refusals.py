"""What the emulator answers before any service sees a request, in each service's own words: a body longer than
its kind allows, a length that is no length, and "too busy" when no worker can take a connection.

Body limits:

- Resource Manager (and every JSON service behind the emulator: sign-in, the directory, Key Vault, fault control):
  4 MB, answered ``413 RequestContentTooLarge`` "The request content size exceeds the maximum size of 4 MB." (the
  code and message Resource Manager answers, as reported from real deployments, e.g. Azure/avdaccelerator#632;
  the 4 MB template limit: Microsoft's "Resolve errors for job size exceeded").
- Blob service: by the request's service version (``x-ms-version``, or a SAS's ``sv``), as Microsoft's "Scalability
  and performance targets for Blob storage" lists them: Put Block 4 MiB before 2016-05-31, 100 MiB to 2019-07-07,
  4000 MiB from 2019-12-12; Put Blob (and any other blob request) 64 MiB, 256 MiB, 5000 MiB. Answered
  ``413 RequestBodyTooLarge`` with ``MaxLimit``, as the storage service does (Microsoft's KB 4016806).
"""

from __future__ import annotations

from azs_emulator.protocol import ArmError, OAuthError, Response
from azs_emulator.routing import BLOB, IDENTITY, QUEUE, TABLE

RETRY_AFTER_SECONDS = 1
# The storage data plane's services: their own error shape (queues and tables: 4 MB, a table batch's limit).
_STORAGE = frozenset({BLOB, QUEUE, TABLE})
MIB = 1024 * 1024
JSON_LIMIT = 4 * MIB
# (oldest service version of the row, Put Block's limit, Put Blob's limit), newest first.
_BLOB_LIMITS = (("2019-12-12", 4000 * MIB, 5000 * MIB), ("2016-05-31", 100 * MIB, 256 * MIB), ("", 4 * MIB, 64 * MIB))


def limit_for(listener_roles: frozenset[str], method: str, query: dict[str, str], headers: dict[str, str]) -> int:
    """The longest body a request of this kind may carry."""
    if BLOB not in listener_roles:
        return JSON_LIMIT
    version = headers.get("x-ms-version") or query.get("sv", "")
    block, blob = next((block, blob) for oldest, block, blob in _BLOB_LIMITS if version >= oldest)
    return block if method == "PUT" and query.get("comp") == "block" else blob


def too_large(listener_roles: frozenset[str], limit: int) -> Response:
    """The answer to a body longer than ``limit``; the connection is closed after it."""
    if listener_roles & _STORAGE:
        from azs_emulator.services.storage_auth import StorageError

        answer = StorageError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                           "limit.", MaxLimit=str(limit)).response()
    elif IDENTITY in listener_roles and len(listener_roles) == 1:
        answer = OAuthError(413, "invalid_request", "The request body exceeds the maximum size of 4 MB.").response()
    else:
        answer = ArmError(413, "RequestContentTooLarge", "The request content size exceeds the maximum size of 4 MB.").response()
    answer.headers["Connection"] = "close"
    return answer


def busy(listener_roles: frozenset[str]) -> Response:
    """The answer when every worker is busy and the backlog is full: 503 with Retry-After (the storage service's
    ``ServerBusy``, Resource Manager's ``ServiceUnavailable``), and the connection closed."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Connection": "close"}
    if listener_roles & _STORAGE:
        from azs_emulator.services.storage_auth import StorageError

        answer = StorageError(503, "ServerBusy", "The server is currently unable to receive requests. Please retry your request.").response()
        answer.headers.update(headers)
        return answer
    return ArmError(503, "ServiceUnavailable", "The emulator is busy with other requests; retry later.", headers).response()


def invalid_length() -> Response:
    """The answer to a ``Content-Length`` (or chunk size) that is no length: HTTP.sys's own 400 page, since it is
    the front that reads the head before any service sees the request."""
    body = (b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n"
            b"<HTML><HEAD><TITLE>Bad Request</TITLE></HEAD><BODY><h2>Bad Request - Invalid Content Length</h2>"
            b"<hr><p>HTTP Error 400. There is an invalid content length or chunk length in the request.</p></BODY></HTML>\r\n")
    return Response(400, body, {"Connection": "close"}, content_type="text/html; charset=us-ascii")
