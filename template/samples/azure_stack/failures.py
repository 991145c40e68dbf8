"""How a sample ends when something fails: :func:`run` says it in one line (what failed and what to do), exits 1,
and never shows a traceback or a word of the service principal's secret.

A new kind of failure worth its own wording gets a branch in :func:`failure`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from .files import ConfigError
from .redaction import one_line, redact
from .trust import tls_diagnosis
from .waiting import waiting_notices


def role_granting(action: str) -> str:
    """The least built-in role that grants ``action``: Reader for reads, Owner (or User Access Administrator) for
    Microsoft.Authorization's writes, Contributor for every other write."""
    lowered = action.lower()
    if lowered.endswith("/read"):
        return "Reader"
    if lowered.startswith("microsoft.authorization/"):
        return "Owner (or User Access Administrator)"
    return "Contributor"


def refused_action(message: str) -> str:
    """Resource Manager's 403 ``AuthorizationFailed`` in one line: who was refused what, where, and what to ask for."""
    action = re.search(r"perform action '([^']+)'", message)
    scope = re.search(r"over scope '([^']+)'", message)
    client = re.search(r"The client '([^']+)'", message)
    if not action:
        return f"Resource Manager answered AuthorizationFailed: {one_line(message)}"
    who = f"the service principal {client.group(1)}" if client else "the service principal"
    where = scope.group(1) if scope else "its scope"
    return (f"{who} may not {action.group(1)} on {where}: ask the Stack operator for {role_granting(action.group(1))} "
            "on the subscription (or that scope)")


# What urllib3 (under azure-core's transport) says when no connection was made: refused, no route, a name that does
# not resolve, a connect timeout, a proxy that cannot be reached.
_NOT_REACHED = re.compile(r"Failed to establish a new connection|Connection refused|Failed to resolve|Name or service not "
                          r"known|nodename nor servname|getaddrinfo failed|Temporary failure in name resolution|No route to "
                          r"host|Network is unreachable|timed out|Unable to connect to proxy", re.IGNORECASE)
_HOST = re.compile(r"host='([^']+)'(?:, port=(\d+))?")


def unreachable(exc: BaseException) -> str | None:
    """The host no connection could be made to, when ``exc`` (or the error it wraps: azure-identity's
    ClientAuthenticationError wraps azure-core's ServiceRequestError) says so; None when a connection was made."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    seen: BaseException | None = exc
    for _ in range(5):  # the error and what it was raised from, a few links down
        if seen is None:
            return None
        # azure-identity words a failed request "Authentication failed: <the request's error>"; an answer it got (a
        # refusal) never names a connection.
        wrapped = isinstance(seen, ClientAuthenticationError) and "Connection(host=" in str(seen)
        if (isinstance(seen, ServiceRequestError) or wrapped) and _NOT_REACHED.search(str(seen)):
            host = _HOST.search(str(seen))
            if not host:
                return "the Stack"
            return f"{host.group(1)}:{host.group(2)}" if host.group(2) and host.group(2) != "443" else host.group(1)
        seen = seen.__cause__  # what it was raised from (never merely what was being handled then)
    return None


def failure(exc: Exception) -> str:
    """The one line that says what failed, for an exception of the Azure SDK a sample's ``main`` raised."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return f"error: {tls_diagnosis(sign_in=isinstance(exc, ClientAuthenticationError))}"
    host = unreachable(exc)
    if host:
        return (f"error: cannot reach {host}: check the endpoint in stack.json, that the Stack is reachable from here, "
                "and HTTPS_PROXY/NO_PROXY")
    if isinstance(exc, ClientAuthenticationError):
        return f"error: sign-in failed: {one_line(exc.message or exc)}"
    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error else exc.status_code
        if code == "AuthorizationFailed":
            return f"error: {refused_action(exc.error.message or '')}"
        storage_code = getattr(exc, "error_code", None)
        if exc.error is None and storage_code:  # the storage data plane answers in its own XML
            first = str(exc.message or exc.reason or "").strip().splitlines()[0:1]
            return f"error: the storage service answered {exc.status_code} {storage_code}: {one_line(first[0] if first else '')}"
        message = exc.error.message if exc.error else exc.reason
        if code is None:  # no status and no body: the answer was cut off or unreadable
            return (f"error: the Resource Manager's answer could not be read ({type(exc).__name__}: "
                    f"{one_line(exc.message or exc)}); run again, and check the network if it recurs")
        return f"error: Resource Manager answered {code}: {one_line(message)}"
    return f"error: {type(exc).__name__}: {one_line(exc)}"


def run(main: Callable[[], None]) -> None:
    """Run a sample's ``main``: one clear line and exit code 1 on a known failure, never a traceback, and never a
    word of the service principal's secret (an identity server may quote it back)."""
    import logging

    from azure.core.exceptions import AzureError

    # azure-identity logs a failure as a warning before raising it; report each failure once.
    logging.getLogger("azure").setLevel(logging.ERROR)
    try:
        with waiting_notices():
            main()
    except ConfigError as exc:
        sys.exit(redact(f"error: {exc}"))
    except AzureError as exc:
        sys.exit(redact(failure(exc)))
    except KeyboardInterrupt:
        sys.exit("interrupted")
    except Exception as exc:  # e.g. MSAL's ValueError for a sign-in answer that is not JSON: one line, redacted
        sys.exit(redact(f"error: {type(exc).__name__}: {one_line(exc)}"))
