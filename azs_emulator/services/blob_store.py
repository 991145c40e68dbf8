"""What the blob service keeps: per storage account (``StateData.blob_accounts``) its containers, each with its
metadata, access policy, lease and blobs; per blob its properties, metadata, lease and the *extents* of its content,
whose bytes are files on disk (:mod:`azs_emulator.services.blob_content`), never in the state. Leases on containers and
blobs follow the REST API's "Lease Blob" / "Lease Container" state tables; conditional headers its "Specifying
conditional headers for Blob service operations"."""

from __future__ import annotations

import base64
import copy
import time
import uuid
from typing import Any, cast
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request
from azs_emulator.services.blob_content import ContentFiles, Extent
from azs_emulator.services.storage import find_account
from azs_emulator.services.storage_auth import StorageError, account_store, etag, http_date, invalid_header, now
from azs_emulator.state import BlobAccount

Container = dict[str, Any]
Blob = dict[str, Any]
# The blob properties a client sets (Put Blob, Set Blob Properties) and their headers.
CONTENT_HEADERS = {"content_type": "x-ms-blob-content-type", "content_encoding": "x-ms-blob-content-encoding",
                   "content_language": "x-ms-blob-content-language", "content_disposition": "x-ms-blob-content-disposition",
                   "cache_control": "x-ms-blob-cache-control", "md5": "x-ms-blob-content-md5"}
# The same properties as a GET of the blob answers them.
ANSWER_HEADERS = {"content_encoding": "Content-Encoding", "content_language": "Content-Language",
                  "content_disposition": "Content-Disposition", "cache_control": "Cache-Control", "md5": "Content-MD5"}


class BlobBackend:
    """Owns the blob data plane's containers and blobs, by storage account name, and their content files."""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self._accounts = arm.data["blob_accounts"]
        self.files = ContentFiles(arm.ctx.state.directory)

    def account(self, name: str) -> BlobAccount:
        """The account's blob store (made empty on first use, and for a new account of an earlier one's name): change
        it in place and :meth:`save`."""
        store, earlier = account_store(self._arm, self._accounts, name, {"containers": {}})
        for container in (earlier or {}).get("containers", {}).values():
            self.forget_container(container)
        return cast(BlobAccount, store)

    def save(self) -> None:
        self._arm.save()

    def new_blob(self, kind: str, request: Request, existing: Blob | None) -> Blob:
        """A blob's document as Put Blob makes it: its properties and metadata from the request's headers."""
        stamp = http_date(now())
        blob: Blob = {"type": kind, "extents": [], "blocks": [], "size": 0, "etag": etag(), "modified": stamp,
                      "created": existing["created"] if existing else stamp, "metadata": metadata_of(request),
                      "content_type": "application/octet-stream"}
        for name, header in CONTENT_HEADERS.items():
            if request.headers.get(header):
                blob[name] = request.headers[header]
        if existing and existing.get("lease"):
            blob["lease"] = existing["lease"]  # a lease stays with the blob across writes
        return blob

    def content(self, blob: Blob) -> list[Extent]:
        """A blob's extents; a blob an older emulator kept in the state (base64) is moved to a file first."""
        if "content" in blob:
            raw = base64.b64decode(blob.pop("content"))
            name, size = self.files.write(raw)
            blob.update(type="BlockBlob", extents=[[name, size]], blocks=[None], size=size)
            self.save()
        return blob["extents"]

    def files_of(self, blob: Blob) -> list[str]:
        return [extent[0] for extent in self.content(blob)]

    def forget(self, blobs: list[Blob]) -> None:
        """Remove the content of blobs no longer kept (deleted, replaced)."""
        self.files.remove(name for blob in blobs for name in self.files_of(blob))

    def forget_container(self, container: Container) -> None:
        doomed = list(container["blobs"].values())
        doomed += [s for kept in container.get("snapshots", {}).values() for s in kept.values()]
        doomed += [{"extents": list(blocks.values())} for blocks in container.get("staged", {}).values()]
        self.forget(doomed)

    def _at(self, uri: str) -> tuple[Container, str] | None:
        """The container (made if missing, as Compute makes a VM's) and blob name a blob URI of this emulator names;
        None for an account it does not hold."""
        parts = urlsplit(uri)
        account = (parts.hostname or "").split(".", 1)[0].lower()
        container, _, name = unquote(parts.path).lstrip("/").partition("/")
        if not name or find_account(self._arm, account) is None:
            return None
        containers = self.account(account)["containers"]
        if container not in containers:
            containers[container] = {"modified": http_date(now()), "etag": etag(), "blobs": {}, "metadata": {},
                                     "acl": {"public": None, "policies": {}}}
        return containers[container], name

    def put_disk(self, uri: str, size: int, image_uri: str | None = None) -> None:
        """A VM's unmanaged disk as Compute writes it: the page blob at ``uri`` of ``size`` bytes (sparse), or a copy of
        the image VHD at ``image_uri``; an existing blob is kept (an attached disk), a URI outside the emulator's
        accounts is left alone (Compute on a Stack writes there; nothing here reads it)."""
        target = self._at(uri)
        if target is None or target[1] in target[0]["blobs"]:
            return
        source = self._at(image_uri) if image_uri else None
        image = source[0]["blobs"].get(source[1]) if source else None
        stamp = http_date(now())
        disk: Blob = self.twin(image) if image else {"type": "PageBlob", "extents": [[self.files.empty(size), size]],
                                                     "size": size, "pages": [], "sequence": 0, "metadata": {}}
        disk.update(etag=etag(), modified=stamp, created=stamp, content_type="application/octet-stream", blocks=[])
        target[0]["blobs"][target[1]] = disk
        self.save()

    def twin(self, blob: Blob) -> Blob:
        """A copy of a blob whose content is its own (a snapshot, a copy's target): a block blob's unchanging block
        files are linked, a page or append blob's file is copied (a page blob's written pages only)."""
        twin = copy.deepcopy(blob)
        extents = self.content(blob)
        if blob["type"] == "BlockBlob":
            twin["extents"] = [[self.files.link(name), size] for name, size in extents]
        elif blob["type"] == "PageBlob":
            twin["extents"] = [[self.files.copy(extents[0][0], [tuple(r) for r in blob.get("pages", [])], blob["size"]), blob["size"]]]
        else:
            twin["extents"] = [[self.files.copy(extents[0][0]), blob["size"]]]
        twin.pop("lease", None)
        return twin


def metadata_of(request: Request) -> dict[str, str]:
    """The ``x-ms-meta-*`` headers of a request (names as sent, without the prefix)."""
    return {name[len("x-ms-meta-"):]: value for name, value in request.headers.items() if name.startswith("x-ms-meta-")}


def metadata_headers(item: dict[str, Any]) -> dict[str, str]:
    return {f"x-ms-meta-{name}": value for name, value in item.get("metadata", {}).items()}


def touch(item: dict[str, Any]) -> None:
    """A change of a container or blob: a new ETag and Last-Modified."""
    item["etag"], item["modified"] = etag(), http_date(now())


def properties_headers(blob: Blob) -> dict[str, str]:
    headers = {"Last-Modified": blob["modified"], "ETag": blob["etag"], "x-ms-blob-type": blob["type"],
               "x-ms-creation-time": blob["created"], "x-ms-server-encrypted": "true", **lease_headers(blob),
               **metadata_headers(blob), **{ANSWER_HEADERS[k]: blob[k] for k in ANSWER_HEADERS if blob.get(k) and k != "md5"}}
    if blob["type"] == "PageBlob":
        headers["x-ms-blob-sequence-number"] = str(blob.get("sequence", 0))
    elif blob["type"] == "AppendBlob":
        headers["x-ms-blob-committed-block-count"] = str(blob.get("appended", 0))
    copy = blob.get("copy")
    if copy:
        headers.update({"x-ms-copy-id": copy["id"], "x-ms-copy-source": copy["source"], "x-ms-copy-status": copy["status"],
                        "x-ms-copy-progress": copy["progress"], "x-ms-copy-completion-time": copy["completion"]})
    return headers


def blob_xml(name: str, snapshot: str, blob: Blob, backend: BlobBackend, with_metadata: bool, with_copy: bool) -> str:
    """A blob as List Blobs shows it."""
    backend.content(blob)
    state, status, duration = lease_state(blob)
    fields = [("Creation-Time", blob["created"]), ("Last-Modified", blob["modified"]), ("Etag", blob["etag"]),
              ("Content-Length", str(blob["size"])), ("Content-Type", blob.get("content_type", "")),
              ("Content-Encoding", blob.get("content_encoding", "")), ("Content-Language", blob.get("content_language", "")),
              ("Content-MD5", blob.get("md5", "")), ("Content-Disposition", blob.get("content_disposition", "")),
              ("Cache-Control", blob.get("cache_control", ""))]
    if blob["type"] == "PageBlob":
        fields.append(("x-ms-blob-sequence-number", str(blob.get("sequence", 0))))
    fields += [("BlobType", blob["type"]), ("LeaseStatus", status), ("LeaseState", state), ("LeaseDuration", duration or "")]
    copy = blob.get("copy")
    if with_copy and copy:
        fields += [("CopyId", copy["id"]), ("CopyStatus", copy["status"]), ("CopySource", copy["source"]),
                   ("CopyProgress", copy["progress"]), ("CopyCompletionTime", copy["completion"])]
    fields.append(("ServerEncrypted", "true"))
    properties = "".join(f"<{tag}>{escape(value)}</{tag}>" if value else f"<{tag} />" for tag, value in fields
                         if value or tag.startswith("Content-"))
    metadata = ("<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in blob.get("metadata", {}).items()) + "</Metadata>"
                if with_metadata else "")
    stamp = f"<Snapshot>{snapshot}</Snapshot>" if snapshot else ""
    return f"<Blob><Name>{escape(name)}</Name>{stamp}<Properties>{properties}</Properties>{metadata}</Blob>"


# -- conditions --------------------------------------------------------------------------------------


def check_conditions(request: Request, item: dict[str, Any] | None, read: bool = False) -> None:
    """If-Match / If-None-Match against the item's ETag: 412 ConditionNotMet, or 304 for a read whose If-None-Match
    matches."""
    current = item["etag"] if item else None
    wanted = request.headers.get("if-match")
    if wanted and not (current and (wanted.strip() == "*" or current in [t.strip() for t in wanted.split(",")])):
        raise StorageError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
    unwanted = request.headers.get("if-none-match")
    if unwanted and current and (unwanted.strip() == "*" or current in [t.strip() for t in unwanted.split(",")]):
        if read:
            raise StorageError(304, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
        raise StorageError(409 if unwanted.strip() == "*" else 412, "BlobAlreadyExists" if unwanted.strip() == "*" else
                        "ConditionNotMet", "The specified blob already exists." if unwanted.strip() == "*" else
                        "The condition specified using HTTP conditional header(s) is not met.")


# -- leases ------------------------------------------------------------------------------------------


def lease_state(holder: dict[str, Any]) -> tuple[str, str, str | None]:
    """(lease state, lease status, lease duration) of a container or blob, as its headers and lists show them."""
    lease = holder.get("lease")
    if not lease:
        return "available", "unlocked", None
    moment = time.time()
    if lease["state"] == "leased":
        if lease["expires"] and moment >= lease["expires"]:
            return "expired", "unlocked", None
        return "leased", "locked", "infinite" if lease["duration"] == -1 else "fixed"
    if lease["state"] == "breaking":
        return ("broken", "unlocked", None) if moment >= lease["break_at"] else ("breaking", "locked", None)
    return lease["state"], "unlocked", None


def lease_headers(holder: dict[str, Any]) -> dict[str, str]:
    state, status, duration = lease_state(holder)
    return {"x-ms-lease-state": state, "x-ms-lease-status": status, **({"x-ms-lease-duration": duration} if duration else {})}


def check_lease(request: Request, holder: dict[str, Any], what: str) -> None:
    """A write to a leased blob (or the delete of a leased container) names its lease: 412 otherwise."""
    state = lease_state(holder)[0]
    given = request.headers.get("x-ms-lease-id")
    if state in ("leased", "breaking"):
        if not given:
            raise StorageError(412, "LeaseIdMissing", f"There is currently a lease on the {what.lower()} and no lease ID was "
                            "specified in the request.")
        if given != holder["lease"]["id"]:
            raise StorageError(412, f"LeaseIdMismatchWith{what}Operation", "The lease ID specified did not match the lease "
                            f"ID for the {what.lower()}.")
    elif given:
        raise StorageError(412, f"LeaseNotPresentWith{what}Operation", f"There is currently no lease on the {what.lower()}.")


def _duration(request: Request) -> int:
    text = request.headers.get("x-ms-lease-duration", "")
    if not text.lstrip("-").isdigit() or not (int(text) == -1 or 15 <= int(text) <= 60):
        raise invalid_header("x-ms-lease-duration", text)
    return int(text)


def lease_action(request: Request, holder: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """Acquire, renew, change, release or break a lease (``x-ms-lease-action``); the answer's status and headers."""
    action = request.headers.get("x-ms-lease-action", "").lower()
    state = lease_state(holder)[0]
    lease = holder.get("lease") or {}
    given = request.headers.get("x-ms-lease-id", "")
    proposed = request.headers.get("x-ms-proposed-lease-id", "")
    active = state in ("leased", "breaking")

    def conflict(code: str, message: str) -> StorageError:
        return StorageError(409, code, message)

    if action == "acquire":
        duration = _duration(request)
        if state == "breaking" or (state == "leased" and proposed != lease["id"]):
            raise conflict("LeaseAlreadyPresent", "There is already a lease present.")
        holder["lease"] = _leased(proposed or str(uuid.uuid4()), duration)
        return 201, {"x-ms-lease-id": holder["lease"]["id"]}
    if action == "break":
        if state == "available":
            raise conflict("LeaseNotPresentWithLeaseOperation", "There is currently no lease.")
        remaining = 0.0
        if active:  # a break period shorter than what the lease has left wins; an infinite lease has nothing left
            period = request.headers.get("x-ms-lease-break-period")
            end = lease["break_at"] if state == "breaking" else lease["expires"]
            left = max(0.0, end - time.time()) if end else None
            remaining = min(x for x in (float(period) if period else None, left) if x is not None) \
                if (period or left is not None) else 0.0
            holder["lease"] = {**lease, "state": "breaking", "break_at": time.time() + remaining}
        return 202, {"x-ms-lease-time": str(int(remaining))}
    if state == "available":
        raise conflict("LeaseNotPresentWithLeaseOperation", "There is currently no lease.")
    if given != lease["id"] and not (action == "change" and proposed == lease["id"]):
        raise conflict("LeaseIdMismatchWithLeaseOperation", "The lease ID specified did not match the lease ID.")
    if action == "renew":
        if state in ("breaking", "broken"):
            raise conflict("LeaseIsBrokenAndCannotBeRenewed", "The lease ID matched, but the lease has been broken "
                           "explicitly and cannot be renewed.")
        holder["lease"] = _leased(lease["id"], lease["duration"])
        return 200, {"x-ms-lease-id": lease["id"]}
    if action == "change":
        if state != "leased":
            raise conflict("LeaseNotPresentWithLeaseOperation", "There is currently no lease.")
        holder["lease"] = {**lease, "id": proposed}
        return 200, {"x-ms-lease-id": proposed}
    if action == "release":
        holder.pop("lease", None)
        return 200, {}
    raise invalid_header("x-ms-lease-action", action)


def _leased(lease_id: str, duration: int) -> dict[str, Any]:
    return {"id": lease_id, "state": "leased", "duration": duration,
            "expires": None if duration == -1 else time.time() + duration, "break_at": None}
