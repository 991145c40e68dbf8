"""What the commands' options share: typed option objects read from the parsed command line, argument types,
the options of every command that talks to a Stack or renders the template, and progress lines.

A common option (one every Stack command takes) is added in :func:`add_discovery_options` and read in
:class:`DiscoveryOptions`, nowhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from generator.errors import UsageError

if TYPE_CHECKING:  # --help imports no discovery
    from generator.discovery import DiscoveryRequest, ServicePrincipal
    from generator.operations.emulator_control import EmulatorStack

T = TypeVar("T")


def options_of(cls: type[T], args: argparse.Namespace) -> T:
    """The options object ``cls`` (a dataclass) from the parsed command line: each field the option of its name, a
    field whose type is itself an options dataclass (the discovery options, ...) read the same way."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind: Any = hints[field.name]
        values[field.name] = options_of(kind, args) if isinstance(kind, type) and dataclasses.is_dataclass(kind) else getattr(args, field.name)
    return cls(**values)


def progress(message: str) -> None:
    """A progress line on stderr (indented: it is no error); what a server said in it made printable."""
    from generator._util.terminal import printable

    print(f"  {printable(message)} ...", file=sys.stderr, flush=True)


def add_alias(p: argparse._ActionsContainer, old: str, action: argparse.Action) -> None:
    """``old``, a released spelling of the option ``action`` (what ``add_argument`` returned), still works: it sets the
    same option, and ``--help`` shows only the new spelling (docs/architecture.md's glossary lists every alias)."""
    settings: dict[str, Any] = {"type": action.type} if action.type is not None else {}
    p.add_argument(old, dest=action.dest, choices=action.choices, metavar=action.metavar, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS, **settings)


# -- argument types ---------------------------------------------------------------------------------------------

MAX_SECONDS = 86400.0

def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds")
    if abs(value) > MAX_SECONDS:  # sockets, sleeps and waits overflow somewhere past 1e9 s; no wait needs a day
        raise argparse.ArgumentTypeError(f"{text} seconds is more than a day ({MAX_SECONDS:.0f} s), the most any wait takes")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


# -- the Stack and its service principal ------------------------------------------------------------------------

def add_discovery_options(p: argparse.ArgumentParser, endpoint_required: bool = True) -> None:
    """The options every command that talks to a Stack takes (read back as :class:`DiscoveryOptions`)."""
    stack = p.add_mutually_exclusive_group(required=endpoint_required)
    stack.add_argument("--arm-endpoint", metavar="URL", help="the Stack's Resource Manager, e.g. https://management.local.azurestack.external")
    add_alias(p, "--ca-cert", p.add_argument("--root-ca", metavar="PEM",
                                             help="the Stack's root CA (PEM) to trust; default: the public CAs (certifi)"))
    p.add_argument("--tenant", metavar="NAME_OR_ID", help="Azure AD directory (GUID or contoso.onmicrosoft.com); default: the Stack's own")
    p.add_argument("--client-id", metavar="ID", help="service principal application id; proves the credentials and reads the providers")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--client-secret-env", metavar="VAR", help="environment variable holding the client secret (else a hidden prompt)")
    secret.add_argument("--certificate", metavar="PEM", help="sign in with this certificate (PEM with its private key) instead of a secret")
    p.add_argument("--certificate-password-env", metavar="VAR", help="environment variable holding the certificate's password, if any")
    p.add_argument("--subscription-id", metavar="ID", help="subscription to use (default: the only one the principal sees)")
    p.add_argument("--admin-endpoint", metavar="URL", help="admin Resource Manager, to read the release from the update API (operator credentials)")
    add_alias(p, "--stack-version", p.add_argument(
        "--release", metavar="V", help="the Stack's release (YYMM, e.g. 2108), or its build (1.2108.2.65), if you know it"))
    p.add_argument("--force", action="store_true", help="use --release even where the Stack's own evidence disagrees")
    p.add_argument("--timeout", type=positive_float, default=15.0, metavar="SECONDS",
                   help="the longest one try of a request may take, however slowly the answer comes; sign-in too (default: %(default)s)")
    stack.add_argument("--emulator", metavar="INFO_FILE",
                   help="the Stack and its service principal (endpoint, CAs, client id and secret) from the info file of an "
                   "azs-scaffold emulator (what 'emulator --info-file F' or '--detach' wrote); requests go through its proxy")


@dataclass
class DiscoveryOptions:
    """The Stack and the service principal as the options name them (the secret itself is never an option)."""

    arm_endpoint: str | None
    root_ca: str | None
    tenant: str | None
    client_id: str | None
    client_secret_env: str | None
    certificate: str | None
    certificate_password_env: str | None
    subscription_id: str | None
    admin_endpoint: str | None
    release: str | None
    force: bool
    timeout: float
    emulator: str | None

    def on_emulator(self, stack: EmulatorStack) -> DiscoveryOptions:
        """These options with the Stack and service principal of ``--emulator`` (which no other option may name)."""
        given = [option for option, value in (("--root-ca", self.root_ca),
                                               ("--client-id", self.client_id), ("--client-secret-env", self.client_secret_env),
                                               ("--certificate", self.certificate)) if value]
        if given:
            raise UsageError(f"--emulator gives the Stack and its service principal: drop {', '.join(given)}")
        return dataclasses.replace(self, arm_endpoint=stack.arm_endpoint, root_ca=stack.root_ca,
                                   client_id=stack.principal.client_id)

    def principal(self) -> ServicePrincipal | None:
        """The service principal the options name (secret from the environment or a hidden prompt, or the emulator's
        info file), or None."""
        from generator._util.redact import read_secret
        from generator.discovery import ServicePrincipal

        if self.emulator:
            from generator.operations.emulator_control import entered

            return entered(self.emulator).principal
        if not self.client_id:
            if self.client_secret_env or self.certificate:
                raise UsageError("a client secret or certificate needs --client-id too")
            return None
        if self.certificate:
            if not os.path.exists(self.certificate):
                raise UsageError(f"--certificate {self.certificate}: no such file; give the PEM with the certificate and its private key")
            if os.path.isdir(self.certificate):
                raise UsageError(f"--certificate {self.certificate} is a directory; give the PEM with the certificate and its private key")
            return ServicePrincipal.from_credentials(self.client_id, certificate=self.certificate,
                                                     certificate_password=read_secret(self.certificate_password_env, None,
                                                                                      "--certificate-password-env"))
        return ServicePrincipal.from_credentials(
            self.client_id, secret=read_secret(self.client_secret_env, f"Client secret for {self.client_id}: ", "--client-secret-env"))

    def request(self) -> DiscoveryRequest:
        """What discovery is asked, the service principal signed in with (an empty option is unset)."""
        from generator.discovery import DiscoveryRequest

        public_ca_bundle = None
        if self.emulator:
            from generator.operations.emulator_control import entered

            public_ca_bundle = entered(self.emulator).public_ca_bundle
        return DiscoveryRequest(arm_endpoint=self.arm_endpoint or "", root_ca=self.root_ca or None, tenant=self.tenant or None,
                                principal=self.principal(), subscription_id=self.subscription_id or None,
                                admin_endpoint=self.admin_endpoint or None, release=self.release or None,
                                force=self.force, timeout=self.timeout, public_ca_bundle=public_ca_bundle)


# -- the template -----------------------------------------------------------------------------------------------

def add_template_options(p: argparse.ArgumentParser) -> None:
    """Which template renders (read back as :class:`TemplateOptions`)."""
    p.add_argument("--template", metavar="SRC", help="template path, bundle or git URL (default: the one this azs-scaffold carries)")
    p.add_argument("--vcs-ref", metavar="REF", help="template version, a git tag or commit (default: this azs-scaffold's own; "
                   "with --template, copier's: the latest release tag, else HEAD)")


@dataclass
class TemplateOptions:
    template: str | None
    vcs_ref: str | None
