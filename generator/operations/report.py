"""Human-readable summaries of what the generator found and decided."""

from __future__ import annotations

from generator._util.terminal import printable
from generator.discovery import StackDiscovery


def discovery_summary(found: StackDiscovery) -> str:
    """A short, aligned summary of a discovery, evidence included; every value the Stack gave made printable."""
    m = found.metadata
    rows = [
        ("Resource Manager", m.resource_manager),
        ("Identity", f"{'ADFS' if m.identity_system == 'adfs' else 'Azure AD'} at {m.login_endpoint}"),
        ("Authority host", m.authority_host),
        ("Tenant", found.tenant_id or "unknown (pass --tenant)"),
        ("Token scope", m.credential_scope),
        ("Stack release", _release(found)),
        ("API profile", found.profile or "unknown"),
    ]
    if found.subscription_id:
        rows.append(("Subscription", f"{found.subscription_id} (credentials work)"))
    elif found.credentials_proven:
        rows.append(("Subscription", f"none chosen (credentials work): {found.subscription_note}"))
    if found.location:
        rows.append(("Location", found.location))
    if found.roles is not None:
        assignments = found.roles.assignments
        rows.append(("Roles", ", ".join(f"{a.role} at {a.scope}" for a in assignments) if assignments
                     else found.roles.note if assignments is None else "none the principal can see (one may come through a group)"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {printable(value)}" for label, value in rows]
    lines.append("Why this profile:")
    lines.extend(f"  - {printable(sentence)}" for sentence in found.profile_evidence)
    return "\n".join(lines)


def sample_role_warnings(found: StackDiscovery, samples: list[str] | tuple[str, ...]) -> list[str]:
    """One line per sample the principal's roles on the subscription do not allow, naming the role that would; one
    line when the roles could not be read. Warnings only: a role may come through a group the principal cannot see."""
    from generator import catalog

    if found.roles is None or not found.subscription_id:
        return []
    if found.roles.assignments is None:
        return [printable(f"{found.roles.note}; the samples need {catalog.minimal_role(samples[0]) if samples else 'Contributor'} "
                "on the subscription (ask the Stack operator)")]
    held = found.roles.held_on(found.subscription_id)
    lines = []
    for sample in samples:
        refused = catalog.refused_actions(sample, held)
        if refused:
            have = ", ".join(held) or "no role"
            lines.append(f"sample {sample} will be refused {refused[0]}{' and more' if len(refused) > 1 else ''}: the "
                         f"principal holds {have} on subscription {found.subscription_id}; ask the Stack operator for "
                         f"{catalog.minimal_role(sample)} there (it is still generated: a role may come through a group)")
    return [printable(line) for line in lines]


def _release(found: StackDiscovery) -> str:
    if found.release is None:
        return "global Azure" if found.profile == "latest" else "unknown"
    return f"{found.release} (build {found.build})" if found.build else found.release
