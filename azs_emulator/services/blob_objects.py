"""The blobs of the blob service: Put Blob (block, page and append blobs), Put Block and Put Block List, Get Blob
(whole or a range, streamed from disk) and its properties, metadata, Set Blob Properties, Snapshot Blob, Copy Blob
(within the emulator: synchronous success, which the REST API allows: ``x-ms-copy-status: success``), Lease Blob and
Delete Blob; page and append blobs' own operations are in :mod:`.blob_pages`. Each as the Blob service REST API
reference of its name describes it, at the versions a Stack serves."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azs_emulator.protocol import Request, Response
from azs_emulator.services import blob_pages
from azs_emulator.services.blob_content import Extent, body_of, body_size, check_size, checked_md5, small_body
from azs_emulator.services.blob_store import (
    CONTENT_HEADERS,
    Blob,
    BlobBackend,
    Container,
    check_conditions,
    check_lease,
    lease_action,
    metadata_headers,
    metadata_of,
    properties_headers,
    touch,
)
from azs_emulator.services.storage_auth import XML, StorageError, http_date, invalid_header, now
from azs_emulator.state import BlobAccount

MiB = 1 << 20
# What one request may carry, by operation and service version (REST API "Put Blob", "Put Block"): 64 MiB / 4 MiB
# before 2016-05-31, 256 MiB / 100 MiB from it (2019-12-12, which no Stack serves, raised both).
_PUT_BLOB_MOST = {True: 256 * MiB, False: 64 * MiB}
_PUT_BLOCK_MOST = {True: 100 * MiB, False: 4 * MiB}

Admit = Callable[..., BlobAccount]
FindContainer = Callable[[BlobAccount, str], Container]


def _recent_version(request: Request) -> bool:
    return request.headers.get("x-ms-version", "9999") >= "2016-05-31"


class BlobObjects:
    """The blob operations, on the containers :class:`~.blob.BlobService` admits requests to."""

    def __init__(self, backend: BlobBackend, admit: Admit, find_container: FindContainer) -> None:
        self.backend = backend
        self._admit = admit
        self._find_container = find_container

    def blob(self, request: Request, container: str, name: str) -> Response:
        container, name = unquote(container), unquote(name)
        comp = request.query.get("comp", "")
        method = request.method
        needed = {"PUT": "a" if comp == "appendblock" else "w", "DELETE": "d"}.get(method, "r")
        store = self._admit(request, needed, container, name)
        found = self._find_container(store, container)
        if method in ("GET", "HEAD"):
            reads: dict[str, Callable[..., Response]] = {"": self._get, "metadata": self._get_metadata,
                                                         "blocklist": self._get_block_list,
                                                         "pagelist": lambda r, f, n: blob_pages.get_page_ranges(r, self._existing(r, f, n))}
            if comp not in reads:
                raise _bad_comp()
            return reads[comp](request, found, name)
        if method == "DELETE":
            return self._delete(request, found, name)
        if comp == "" and "x-ms-copy-source" in request.headers:
            return self._copy(request, store, found, name)
        writes: dict[str, Callable[..., Response]] = {
            "": self._put, "block": self._put_block, "blocklist": self._put_block_list, "properties": self._set_properties,
            "metadata": self._set_metadata, "snapshot": self._snapshot, "lease": self._lease, "copy": self._abort_copy,
            "page": self._put_page, "appendblock": self._append_block,
        }
        if comp not in writes:
            raise _bad_comp()
        answer = writes[comp](request, found, name)
        self.backend.save()
        return answer

    # -- reads -----------------------------------------------------------------------------------

    def _existing(self, request: Request, found: Container, name: str) -> Blob:
        snapshot = request.query.get("snapshot")
        blob = found.get("snapshots", {}).get(name, {}).get(snapshot) if snapshot else found["blobs"].get(name)
        if blob is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        self.backend.content(blob)
        return blob

    def _get(self, request: Request, found: Container, name: str) -> Response:
        """Get Blob (whole, or the ``x-ms-range``/``Range`` asked for) and Get Blob Properties (HEAD)."""
        blob = self._existing(request, found, name)
        check_conditions(request, blob, read=True)
        headers = {**properties_headers(blob), "Accept-Ranges": "bytes"}
        wanted = request.headers.get("x-ms-range") or request.headers.get("range")
        size = blob["size"]
        start, end = 0, size - 1
        status = 200
        if wanted and request.method != "HEAD":
            start, end = _range(wanted, size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            if blob.get("md5"):
                headers["x-ms-blob-content-md5"] = blob["md5"]
        elif blob.get("md5"):
            headers["Content-MD5"] = blob["md5"]
        body = self.backend.files.stream(blob["extents"], start, end)  # a HEAD's: its length, never read
        # A blob's content type as set: Put Blob defaults it to application/octet-stream (new_blob), Set Blob Properties
        # without one clears it and Azure then answers no Content-Type at all (real service: public Azure's answers in
        # Azure CLI's recording test_storage_blob_upload_small_file, 2017-11-09; Stacks are "Azure-consistent").
        return Response(status, body, headers, content_type=blob.get("content_type") or None)

    def _get_metadata(self, request: Request, found: Container, name: str) -> Response:
        blob = self._existing(request, found, name)
        return Response(200, None, {"ETag": blob["etag"], "Last-Modified": blob["modified"], **metadata_headers(blob)},
                        content_type=None)

    def _get_block_list(self, request: Request, found: Container, name: str) -> Response:
        """Get Block List: the committed blocks, the uncommitted ones, or both (``blocklisttype``)."""
        blob = found["blobs"].get(name)
        staged = found.get("staged", {}).get(name)
        if blob is None and staged is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        kind = request.query.get("blocklisttype", "committed").lower()
        committed = [(b, e[1]) for b, e in zip(blob["blocks"], self.backend.content(blob)) if b is not None] \
            if blob and blob["type"] == "BlockBlob" else []
        parts = []
        if kind in ("committed", "all"):
            parts.append("<CommittedBlocks>" + "".join(_block_xml(b, s) for b, s in committed) + "</CommittedBlocks>")
        if kind in ("uncommitted", "all"):
            parts.append("<UncommittedBlocks>" + "".join(_block_xml(b, e[1]) for b, e in (staged or {}).items())
                         + "</UncommittedBlocks>")
        headers = {"ETag": blob["etag"], "Last-Modified": blob["modified"]} if blob else {}
        return Response(200, f'<?xml version="1.0" encoding="utf-8"?><BlockList>{"".join(parts)}</BlockList>'.encode(),
                        {**headers, "x-ms-blob-content-length": str(blob["size"] if blob else 0)}, content_type=XML)

    # -- writes ----------------------------------------------------------------------------------

    def _writable(self, request: Request, found: Container, name: str) -> Blob | None:
        """The blob a write replaces or changes (None: a new one), once its lease and conditions allow the write."""
        blob = found["blobs"].get(name)
        if blob is not None:
            self.backend.content(blob)
            check_lease(request, blob, "Blob")
        elif request.headers.get("x-ms-lease-id"):
            raise StorageError(412, "LeaseNotPresentWithBlobOperation", "There is currently no lease on the blob.")
        check_conditions(request, blob)
        return blob

    def _put(self, request: Request, found: Container, name: str) -> Response:
        """Put Blob: a block blob with its content, or an empty page blob of ``x-ms-blob-content-length`` bytes, or an
        empty append blob."""
        kind = {"blockblob": "BlockBlob", "pageblob": "PageBlob", "appendblob": "AppendBlob"}.get(
            request.headers.get("x-ms-blob-type", "").lower())
        if kind is None:
            raise invalid_header("x-ms-blob-type", request.headers.get("x-ms-blob-type", ""))
        existing = self._writable(request, found, name)
        blob = self.backend.new_blob(kind, request, existing)
        extra: dict[str, str] = {}
        if kind == "BlockBlob":
            check_size(request, _PUT_BLOB_MOST[_recent_version(request)])
            md5 = checked_md5(request)
            blob.setdefault("md5", md5)
            file, size = self.backend.files.write(body_of(request))
            blob.update(extents=[[file, size]], blocks=[None], size=size)
            extra["Content-MD5"] = md5
        else:
            if body_size(request):
                raise StorageError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct "
                                "format.", HeaderName="Content-Length", HeaderValue=str(body_size(request)))
            extra = blob_pages.start(request, blob, self.backend.files)
        if existing is not None:
            self.backend.forget([existing])
        found["blobs"][name] = blob
        return _done(201, blob, {**extra, "x-ms-request-server-encrypted": "true"})

    def _put_block(self, request: Request, found: Container, name: str) -> Response:
        """Put Block: staged, uncommitted, until a block list names it."""
        block_id = request.query.get("blockid", "")
        try:
            valid = 0 < len(base64.b64decode(unquote(block_id), validate=True)) <= 64
        except ValueError:
            valid = False
        if not valid:
            raise StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                            "request URI is invalid.", QueryParameterName="blockid", QueryParameterValue=block_id)
        check_size(request, _PUT_BLOCK_MOST[_recent_version(request)])
        if found["blobs"].get(name):
            check_lease(request, found["blobs"][name], "Blob")
        md5 = checked_md5(request)
        staged = found.setdefault("staged", {}).setdefault(name, {})
        replaced = staged.get(unquote(block_id))
        staged[unquote(block_id)] = list(self.backend.files.write(body_of(request)))
        if replaced:
            self.backend.files.remove([replaced[0]])
        return Response(201, None, {"Content-MD5": md5, "x-ms-request-server-encrypted": "true"}, content_type=None)

    def _put_block_list(self, request: Request, found: Container, name: str) -> Response:
        """Put Block List: the blob becomes the blocks named, in order, each from the uncommitted or committed ones
        (``Latest``: uncommitted if there is one); uncommitted blocks not named are dropped."""
        try:
            listed = ElementTree.fromstring(small_body(request))
        except ElementTree.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
        existing = self._writable(request, found, name)
        staged: dict[str, Extent] = found.get("staged", {}).get(name, {})
        committed: dict[str, Extent] = {}
        if existing is not None and existing["type"] == "BlockBlob":
            committed = {b: e for b, e in zip(existing["blocks"], existing["extents"]) if b is not None}
        blocks, extents = [], []
        for element in listed:
            block_id = element.text or ""
            pool = {"Latest": {**committed, **staged}, "Committed": committed, "Uncommitted": staged}.get(element.tag, {})
            if block_id not in pool:
                raise StorageError(400, "InvalidBlockList", "The specified block list is invalid.")
            blocks.append(block_id)
            extents.append(list(pool[block_id]))
        blob = self.backend.new_blob("BlockBlob", request, existing)
        blob.update(extents=extents, blocks=blocks, size=sum(e[1] for e in extents))
        kept = {e[0] for e in extents}
        doomed = [e[0] for e in [*staged.values(), *(existing["extents"] if existing else [])] if e[0] not in kept]
        self.backend.files.remove(doomed)
        found.get("staged", {}).pop(name, None)
        found["blobs"][name] = blob
        return _done(201, blob, {"x-ms-request-server-encrypted": "true"})

    def _set_properties(self, request: Request, found: Container, name: str) -> Response:
        """Set Blob Properties: the content headers as given (one left out is cleared), a page blob's size and
        sequence number."""
        blob = self._writable(request, found, name)
        if blob is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        for key, header in CONTENT_HEADERS.items():
            blob.pop(key, None)
            if request.headers.get(header):
                blob[key] = request.headers[header]
        extra = blob_pages.set_properties(request, blob, self.backend.files) if blob["type"] == "PageBlob" else {}
        touch(blob)
        return _done(200, blob, extra)

    def _set_metadata(self, request: Request, found: Container, name: str) -> Response:
        blob = self._writable(request, found, name)
        if blob is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        blob["metadata"] = metadata_of(request)
        touch(blob)
        return _done(200, blob, {"x-ms-request-server-encrypted": "true"})

    def _snapshot(self, request: Request, found: Container, name: str) -> Response:
        """Snapshot Blob: a read-only copy at this moment, named by its time (``x-ms-snapshot``)."""
        blob = self._existing(request, found, name)
        check_conditions(request, blob)
        moment = now()
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"
        snapshot = self.backend.twin(blob)
        if metadata_of(request):
            snapshot["metadata"] = metadata_of(request)
        found.setdefault("snapshots", {}).setdefault(name, {})[stamp] = snapshot
        return _done(201, blob, {"x-ms-snapshot": stamp})

    def _lease(self, request: Request, found: Container, name: str) -> Response:
        blob = self._existing(request, found, name)
        status, headers = lease_action(request, blob)
        return _done(status, blob, headers)

    def _copy(self, request: Request, store: BlobAccount, found: Container, name: str) -> Response:
        """Copy Blob (and Copy Blob From URL, ``x-ms-requires-sync``) from a blob this emulator serves: done at once,
        ``x-ms-copy-status: success``. The source is read with the destination's authorization when it is in the same
        account; from another account it must be public or carry a SAS (checked by the admitting function)."""
        source_url = request.headers["x-ms-copy-source"]
        parts = urlsplit(source_url)
        account = (parts.hostname or "").split(".", 1)[0]
        segments = parts.path.lstrip("/").split("/", 1)
        if len(segments) != 2 or not segments[1]:
            raise StorageError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                            HeaderName="x-ms-copy-source", HeaderValue=source_url)
        source_request = Request("GET", parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                                 {"host": parts.hostname or "", "x-ms-version": request.headers.get("x-ms-version", "")}, b"", "")
        own = account == request.headers.get("host", "").split(".", 1)[0].lower()
        try:
            source_store = store if own else self._admit(source_request, "r", unquote(segments[0]), unquote(segments[1]))
            source_container = self._find_container(source_store, unquote(segments[0]))
            source = self._existing(source_request, source_container, unquote(segments[1]))
        except StorageError as error:
            if error.status == 404 and own:
                raise
            raise StorageError(403 if error.status == 403 else 404, "CannotVerifyCopySource", error.message) from None
        existing = self._writable(request, found, name)
        blob = self.backend.twin(source)
        stamp = http_date(now())
        copy_id = str(uuid.uuid4())
        blob.update(created=existing["created"] if existing else stamp, copy={
            "id": copy_id, "source": source_url.split("?", 1)[0], "status": "success",
            "progress": f"{source['size']}/{source['size']}", "completion": stamp})
        if metadata_of(request):
            blob["metadata"] = metadata_of(request)
        if existing is not None:
            blob["lease"] = existing.get("lease")
            self.backend.forget([existing])
        touch(blob)
        found["blobs"][name] = blob
        return _done(202, blob, {"x-ms-copy-id": copy_id, "x-ms-copy-status": "success"})

    def _abort_copy(self, request: Request, found: Container, name: str) -> Response:
        self._existing(request, found, name)
        raise StorageError(409, "NoPendingCopyOperation", "There is currently no pending copy operation.")

    def _put_page(self, request: Request, found: Container, name: str) -> Response:
        blob = self._writable(request, found, name)
        return blob_pages.put_page(request, blob, body_of(request), body_size(request), self.backend.files)

    def _append_block(self, request: Request, found: Container, name: str) -> Response:
        blob = self._writable(request, found, name)
        return blob_pages.append_block(request, blob, body_of(request), body_size(request), self.backend.files)

    def _delete(self, request: Request, found: Container, name: str) -> Response:
        """Delete Blob: a snapshot (``snapshot``), or the blob with (``x-ms-delete-snapshots: include``) or only
        (``only``) its snapshots; a blob with snapshots and neither is 409 SnapshotsPresent."""
        snapshots = found.get("snapshots", {}).get(name, {})
        if request.query.get("snapshot"):
            blob = self._existing(request, found, name)
            self.backend.forget([blob])
            del snapshots[request.query["snapshot"]]
            self.backend.save()
            return Response(202, None, content_type=None)
        blob = self._existing(request, found, name)
        which = request.headers.get("x-ms-delete-snapshots", "")
        if snapshots and which not in ("include", "only"):
            raise StorageError(409, "SnapshotsPresent", "This operation is not permitted because the blob has snapshots.")
        check_lease(request, blob, "Blob")
        self.backend.forget(list(snapshots.values()))
        found.get("snapshots", {}).pop(name, None)
        if which != "only":
            self.backend.forget([blob])
            del found["blobs"][name]
        self.backend.save()
        return Response(202, None, content_type=None)


def _range(wanted: str, size: int) -> tuple[int, int]:
    found = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
    if not found or int(found.group(1)) >= size:
        raise StorageError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
    start = int(found.group(1))
    return start, min(int(found.group(2)) if found.group(2) else size - 1, size - 1)


def _block_xml(block_id: str, size: int) -> str:
    return f"<Block><Name>{escape(block_id)}</Name><Size>{size}</Size></Block>"


def _bad_comp() -> StorageError:
    return StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request "
                     "URI is invalid.", QueryParameterName="comp")


def _done(status: int, item: dict[str, Any], extra: dict[str, str] | None = None) -> Response:
    return Response(status, None, {"Last-Modified": item["modified"], "ETag": item["etag"], **(extra or {})}, content_type=None)
