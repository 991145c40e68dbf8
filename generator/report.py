"""Human-readable summaries of what the generator found and decided."""

from __future__ import annotations

from generator.discovery import StackDiscovery


def discovery_summary(found: StackDiscovery) -> str:
    """A short, aligned summary of a discovery, evidence included."""
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
    if found.location:
        rows.append(("Location", found.location))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("Why this profile:")
    lines.extend(f"  - {sentence}" for sentence in found.profile_evidence)
    return "\n".join(lines)


def _release(found: StackDiscovery) -> str:
    if found.stack_version is None:
        return "global Azure" if found.profile == "latest" else "unknown"
    return f"{found.stack_version} (build {found.build})" if found.build else found.stack_version
