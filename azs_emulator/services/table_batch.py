"""Entity group transactions (REST API "Performing entity group transactions"): ``POST /$batch`` with one changeset
of entity operations on one table, carried as ``multipart/mixed`` parts of HTTP requests. They are applied in order
and all or none: the answer is ``202`` with a part per operation, or with the one that failed (its ``Content-ID``)
and nothing of the others kept."""

from __future__ import annotations

import copy
import email.parser
import email.policy
import uuid
from collections.abc import Callable
from http.client import responses
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azs_emulator.protocol import Request, Response
from azs_emulator.services.blob_content import small_body

# A changeset holds at most 100 operations (the REST API).
_MOST_OPERATIONS = 100

Dispatch = Callable[[Request], Response]


def operations(request: Request) -> list[Request]:
    """The changeset's requests, in order, as the emulator's own requests on the batch's host."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + small_body(request))
    found: list[Request] = []
    for part in message.walk():
        if part.get_content_type() != "application/http":
            continue
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes)
        head_text, _, body = raw.partition(b"\r\n\r\n")
        lines = head_text.decode("utf-8").split("\r\n")
        method, url, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        parts = urlsplit(url)
        found.append(Request(method.upper(), parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                             {**headers, "host": request.headers.get("host", "")}, body.rstrip(b"\r\n"), request.base_url))
    return found


def run(request: Request, tables: dict[str, Any], dispatch: Dispatch, error_of: Callable[[Exception], Response | None]) -> Response:
    """Apply the changeset through ``dispatch`` (the table service's own handlers, the batch already admitted);
    ``tables`` is restored as it was when one operation fails."""
    steps = operations(request)
    if not steps or len(steps) > _MOST_OPERATIONS:
        raise ValueError("a changeset holds 1 to 100 operations")
    before = copy.deepcopy(tables)
    answers: list[tuple[int, Response]] = []
    for index, step in enumerate(steps, start=1):
        try:
            answer = dispatch(step)
        except Exception as error:
            refusal = error_of(error)
            if refusal is None:
                raise
            answer = refusal
        answers.append((index, answer))
        if answer.status >= 300:
            tables.clear()
            tables.update(before)
            answers = [(index, answer)]
            break
    return _multipart(answers)


def _multipart(answers: list[tuple[int, Response]]) -> Response:
    batch, changeset = f"batchresponse_{uuid.uuid4()}", f"changesetresponse_{uuid.uuid4()}"
    parts = []
    for content_id, answer in answers:
        body = answer.encoded_body()
        headers = [f"HTTP/1.1 {answer.status} {responses.get(answer.status, '')}", f"Content-ID: {content_id}",
                   "X-Content-Type-Options: nosniff", "Cache-Control: no-cache", "DataServiceVersion: 3.0;"]
        headers += [f"{k}: {v}" for k, v in answer.headers.items()]
        if body and answer.content_type:
            headers.append(f"Content-Type: {answer.content_type}")
        parts.append(f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                     + "\r\n".join(headers) + "\r\n\r\n" + body.decode("utf-8") + "\r\n")
    text = (f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n" + "".join(parts)
            + f"--{changeset}--\r\n--{batch}--\r\n")
    return Response(202, text.encode(), content_type=f"multipart/mixed; boundary={batch}")
