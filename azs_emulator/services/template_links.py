"""Linked templates (``templateLink.uri``) read from the Stack's own blob storage, as a Stack's Resource Manager reads
them: an anonymous GET of the URI, so the blob's container is public or the URI carries a SAS (Microsoft's "Deploy a
template with a SAS token": spec-level docs). Teams on a disconnected Stack stage their nested templates in a storage
account so (Microsoft's Stack quickstart ethereum-consortium-blockchain links its own from
``blkchainsa.blob.<region>.<fqdn>``). Any other host is refused: the emulator reaches no network. A template over
Resource Manager's 4 MB limit is refused unread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request
from azs_emulator.services.storage_auth import StorageError
from azs_emulator.template_language import TemplateError

MAX_TEMPLATE_BYTES = 4 * 1024 * 1024  # Resource Manager's limit of a template (docs: "Template limits")


def _own_storage(uri: str, storage_suffix: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme.lower() == "https" and (parts.hostname or "").lower().endswith(f".blob.{storage_suffix}".lower())


def _no_network(storage_suffix: str) -> str:
    return f"the emulator reaches no network; it reads linked templates only from its own blob storage (https://<account>.blob.{storage_suffix}/...)"


def link_refusal(name: str, link: dict[str, Any], evaluate: Callable[[Any], Any], storage_suffix: str) -> str | None:
    """Why a nested deployment's link cannot be read, told before anything is deployed (None: it may be, or its URI
    needs what only deploying gives, such as ``reference()``)."""
    try:
        uri = str(evaluate(link.get("uri")))
    except TemplateError:
        return None
    if _own_storage(uri, storage_suffix):
        return None
    return f"the nested deployment '{name}' links its template (templateLink) from '{uri.split('?', 1)[0]}': {_no_network(storage_suffix)}"


def _refused(uri: str, why: str) -> ArmError:
    # The URI is shown without its query: a SAS is a secret. ARM's code for a link it cannot read (wording assumed).
    return ArmError(400, "InvalidContentLink", f"Unable to download deployment content from '{uri.split('?', 1)[0]}': {why}.")


class TemplateLinks:
    """Reads a ``templateLink`` through the blob service (``blob_service()``: the emulator's, built after this)."""

    def __init__(self, arm: Arm, blob_service: Callable[[], Any]) -> None:
        self.arm = arm
        self._blob_service = blob_service

    def fetch(self, link: Any) -> dict[str, Any]:
        """The template a ``templateLink`` object names, parsed; ``InvalidContentLink`` when it cannot be read."""
        uri = str(link.get("uri") or "") if isinstance(link, dict) else ""
        if not _own_storage(uri, self.arm.ctx.storage_suffix):
            raise _refused(uri, _no_network(self.arm.ctx.storage_suffix))
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
        container, _, name = parts.path.lstrip("/").partition("/")
        request = Request("GET", parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                          {"host": host, "x-ms-range": f"bytes=0-{MAX_TEMPLATE_BYTES}"}, b"", "")
        try:
            answer = self._blob_service().objects.blob(request, container, name)
        except StorageError as error:
            raise _refused(uri, f"the blob service answered {error.status} {error.code}") from None
        total = str(answer.headers.get("Content-Range", "")).rpartition("/")[2]
        if total.isdigit() and int(total) > MAX_TEMPLATE_BYTES:
            raise _refused(uri, f"the template is larger than {MAX_TEMPLATE_BYTES} bytes")
        try:  # read as leniently as a template in a request's body (comments, a byte order mark)
            template = Request("GET", "", {}, {}, answer.encoded_body(), "").json()
        except (ArmError, UnicodeDecodeError):
            raise _refused(uri, "the content is not JSON") from None
        if not isinstance(template, dict):
            raise _refused(uri, "the content is not a template object")
        return template
