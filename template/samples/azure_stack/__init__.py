"""This project's helper for talking to its Azure Stack Hub: every sample and ``register_providers.py`` goes through
here, so the Stack-specific details live in one place.

A sample needs four lines of it::

    from azure_stack import client, credential, load_config, run

    def main() -> None:
        config = load_config()                       # stack.json + the service principal file
        resources = client(ResourceManagementClient, config, credential(config))
        ...

    run(main)                                        # one clear line on failure, never a traceback or a secret

The modules, each short enough to read at once (extend them; ``azs-scaffold upgrade`` merges its own changes
with yours):

==================  ================================================================================================
``settings``        where each setting lives (stack.json: the Stack's; the service principal file: the credentials),
                    :func:`load_config` and :class:`StackConfig`
``files``           :func:`read_json`: the one reader of the project's JSON files (regular files, size-capped);
                    :func:`recorded_answer`: what ``.copier-answers.yml`` records
``trust``           the one CA bundle every client verifies the Stack with (certifi + the Stack's root + yours)
``credentials``     the azure-identity credential for the service principal, and what its tokens say
``clients``         management, Key Vault and blob clients set up for this Stack (endpoint, scope, profile, TLS)
``waiting``         bounded waits on the wire, and the lines that say a call is still running
``redaction``       every secret read is blanked out of anything printed
``failures``        :func:`run`: an exception said as one line (who may not do what, and the role to ask for)
``cleanup``         a resource group per sample run, deleted at the end
``ssh_keys``        the key pair for sample VMs, private from its first byte
==================  ================================================================================================

Show the settings this project uses: ``.venv/bin/python -m samples.azure_stack``.
"""

from __future__ import annotations

from ._packages import require_the_sdk

require_the_sdk()  # before anything imports the SDK: one line when this Python lacks the project's packages

from .cleanup import temporary_resource_group
from .clients import (
    begin_or_call,
    blob_service,
    bounded_retry_policy,
    client,
    secret_client,
)
from .credentials import credential, service_principal_object_id, token_claims
from .failures import refused_action, role_granting, run
from .files import read_json
from .redaction import redact, remember
from .settings import (
    CERT_FILE,
    OVERLAY_ENV,
    ROOT,
    SECRET_ENV,
    SECRET_FILE,
    ConfigError,
    StackConfig,
    load_config,
    use_emulator_proxy,
)
from .ssh_keys import ssh_key_pair
from .trust import USER_BUNDLE_VARIABLES, stack_bundle, tls_diagnosis
from .waiting import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    heartbeat,
    transport,
    waiting_notices,
)

__all__ = [
    "CERT_FILE", "CONNECT_TIMEOUT", "OVERLAY_ENV", "READ_TIMEOUT", "ROOT", "SECRET_ENV", "SECRET_FILE", "USER_BUNDLE_VARIABLES",
    "ConfigError", "StackConfig", "begin_or_call", "blob_service", "bounded_retry_policy", "client", "credential",
    "heartbeat", "load_config", "read_json", "redact", "refused_action", "remember", "role_granting", "run",
    "secret_client", "service_principal_object_id", "ssh_key_pair", "stack_bundle", "temporary_resource_group",
    "tls_diagnosis", "token_claims", "transport", "use_emulator_proxy", "waiting_notices",
]
