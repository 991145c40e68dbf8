"""Page blobs (what a Stack's VM disks are: REST API "Put Blob" with ``x-ms-blob-type: PageBlob``, "Put Page", "Get
Page Ranges", "Set Blob Properties" resizing one) and append blobs ("Append Block"). A page blob's content is one
sparse file of its size, written in place; the state keeps the ranges written (merged, 512-byte aligned), which is
what Get Page Ranges answers and what a snapshot copies."""

from __future__ import annotations

import re
from pathlib import Path

from azs_emulator.protocol import Request, Response
from azs_emulator.services.blob_content import ContentFiles
from azs_emulator.services.blob_store import Blob, touch
from azs_emulator.services.storage_auth import XML, StorageError, invalid_header

PAGE = 512
MiB = 1 << 20
# Put Page and Append Block carry at most 4 MiB (REST API); an append blob takes at most 50,000 blocks.
_MOST_PER_WRITE = 4 * MiB
_MOST_APPENDS = 50_000
# A Stack's page blobs are at most 1 TB ("Azure Stack Hub storage: Differences and considerations"); Azure's 8 TiB.
_MOST_PAGE_BLOB = 1 << 40


def start(request: Request, blob: Blob, files: ContentFiles) -> dict[str, str]:
    """An empty page blob of ``x-ms-blob-content-length`` bytes, or an empty append blob; the answer's headers."""
    if blob["type"] == "AppendBlob":
        blob.update(extents=[[files.empty(), 0]], size=0, appended=0)
        return {}
    size = _size(request.headers.get("x-ms-blob-content-length", ""))
    sequence = request.headers.get("x-ms-blob-sequence-number", "0")
    if not sequence.isdigit():
        raise invalid_header("x-ms-blob-sequence-number", sequence)
    blob.update(extents=[[files.empty(size), size]], size=size, pages=[], sequence=int(sequence))
    return {}


def _size(text: str) -> int:
    if not text.isdigit() or int(text) % PAGE or int(text) > _MOST_PAGE_BLOB:
        raise invalid_header("x-ms-blob-content-length", text)
    return int(text)


def _page_blob(blob: Blob | None) -> Blob:
    if blob is None:
        raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
    if blob["type"] != "PageBlob":
        raise StorageError(409, "InvalidBlobType", "The blob type is invalid for this operation.")
    return blob


def _page_range(request: Request, size: int) -> tuple[int, int]:
    text = request.headers.get("x-ms-range") or request.headers.get("range") or ""
    found = re.fullmatch(r"bytes=(\d+)-(\d+)", text.strip())
    if not found:
        raise StorageError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                        HeaderName="Range", HeaderValue=text)
    first, last = int(found.group(1)), int(found.group(2))
    if first % PAGE or (last + 1) % PAGE or last < first:
        raise StorageError(416, "InvalidPageRange", "The page range specified is invalid.")
    if last >= size:
        raise StorageError(416, "InvalidPageRange", "The page range specified is invalid.")
    return first, last


def put_page(request: Request, blob: Blob | None, content: bytes | Path, length: int, files: ContentFiles) -> Response:
    """Put Page: write (``update``) or zero (``clear``) a 512-aligned range."""
    blob = _page_blob(blob)
    first, last = _page_range(request, blob["size"])
    action = request.headers.get("x-ms-page-write", "").lower()
    name = blob["extents"][0][0]
    if action == "update":
        if length > _MOST_PER_WRITE:
            raise StorageError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum "
                            "permissible limit.", MaxLimit=str(_MOST_PER_WRITE))
        if length != last - first + 1:
            raise StorageError(400, "InvalidPageRange", "The page range specified is invalid.")
        files.write_at(name, first, content)
        blob["pages"] = _with(blob.get("pages", []), first, last)
    elif action == "clear":
        if length:
            raise invalid_header("Content-Length", str(length))
        files.zero(name, first, last)
        blob["pages"] = _without(blob.get("pages", []), first, last)
    else:
        raise invalid_header("x-ms-page-write", action)
    blob.pop("md5", None)
    touch(blob)
    return Response(201, None, {"ETag": blob["etag"], "Last-Modified": blob["modified"], "x-ms-request-server-encrypted":
                                "true", "x-ms-blob-sequence-number": str(blob.get("sequence", 0))}, content_type=None)


def get_page_ranges(request: Request, blob: Blob) -> Response:
    """Get Page Ranges: the written ranges, within ``x-ms-range`` when given."""
    blob = _page_blob(blob)
    pages = blob.get("pages", [])
    if request.headers.get("x-ms-range") or request.headers.get("range"):
        first, last = _page_range(request, blob["size"])
        pages = [[max(s, first), min(e, last)] for s, e in pages if s <= last and e >= first]
    items = "".join(f"<PageRange><Start>{s}</Start><End>{e}</End></PageRange>" for s, e in pages)
    return Response(200, f'<?xml version="1.0" encoding="utf-8"?><PageList>{items}</PageList>'.encode(),
                    {"ETag": blob["etag"], "Last-Modified": blob["modified"], "x-ms-blob-content-length": str(blob["size"])},
                    content_type=XML)


def set_properties(request: Request, blob: Blob, files: ContentFiles) -> dict[str, str]:
    """Set Blob Properties of a page blob: resize it (``x-ms-blob-content-length``; pages past the end go) and set
    its sequence number (``x-ms-sequence-number-action``: max, update, increment)."""
    if request.headers.get("x-ms-blob-content-length"):
        size = _size(request.headers["x-ms-blob-content-length"])
        files.resize(blob["extents"][0][0], size)
        blob["extents"][0][1] = blob["size"] = size
        if size:
            blob["pages"] = _without(blob.get("pages", []), size, max(size, _MOST_PAGE_BLOB))
        else:
            blob["pages"] = []
    action = request.headers.get("x-ms-sequence-number-action", "").lower()
    if action:
        given = request.headers.get("x-ms-blob-sequence-number", "0" if action == "increment" else "")
        if not given.isdigit() or action not in ("max", "update", "increment"):
            raise invalid_header("x-ms-sequence-number-action", action)
        current = blob.get("sequence", 0)
        blob["sequence"] = {"max": max(current, int(given)), "update": int(given), "increment": current + 1}[action]
    return {"x-ms-blob-sequence-number": str(blob.get("sequence", 0))}


def append_block(request: Request, blob: Blob | None, content: bytes | Path, length: int, files: ContentFiles) -> Response:
    """Append Block: the content at the blob's end, under ``x-ms-blob-condition-maxsize`` and
    ``x-ms-blob-condition-appendpos`` when given."""
    if blob is None:
        raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
    if blob["type"] != "AppendBlob":
        raise StorageError(409, "InvalidBlobType", "The blob type is invalid for this operation.")
    if length > _MOST_PER_WRITE:
        raise StorageError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                        "limit.", MaxLimit=str(_MOST_PER_WRITE))
    offset = blob["size"]
    most = request.headers.get("x-ms-blob-condition-maxsize")
    if most is not None and offset + length > int(most):
        raise StorageError(412, "MaxBlobSizeConditionNotMet", "The max blob size condition specified was not met.")
    position = request.headers.get("x-ms-blob-condition-appendpos")
    if position is not None and int(position) != offset:
        raise StorageError(412, "AppendPositionConditionNotMet", "The append position condition specified was not met.")
    if blob.get("appended", 0) >= _MOST_APPENDS:
        raise StorageError(409, "BlockCountExceedsLimit", "The committed block count cannot exceed the maximum limit of "
                        "50,000 blocks.")
    files.write_at(blob["extents"][0][0], offset, content)
    blob["size"] = blob["extents"][0][1] = offset + length
    blob["appended"] = blob.get("appended", 0) + 1
    blob.pop("md5", None)
    touch(blob)
    return Response(201, None, {"ETag": blob["etag"], "Last-Modified": blob["modified"], "x-ms-blob-append-offset": str(offset),
                                "x-ms-blob-committed-block-count": str(blob["appended"]),
                                "x-ms-request-server-encrypted": "true"}, content_type=None)


def _with(pages: list[list[int]], first: int, last: int) -> list[list[int]]:
    """The ranges with [first, last] added, merged where they touch."""
    merged: list[list[int]] = []
    for start, end in sorted([*pages, [first, last]]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _without(pages: list[list[int]], first: int, last: int) -> list[list[int]]:
    """The ranges with [first, last] taken out."""
    kept: list[list[int]] = []
    for start, end in pages:
        if end < first or start > last:
            kept.append([start, end])
            continue
        if start < first:
            kept.append([start, first - 1])
        if end > last:
            kept.append([last + 1, end])
    return kept
