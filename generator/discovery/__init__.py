"""Discovery: from a Resource Manager endpoint to everything a project for that Stack needs.

endpoint -> metadata (identity system, audience, suffixes) -> tenant -> credentials proven -> release and
profile, each decision with its evidence. The entry point is :func:`discover_stack`.
"""

from generator.discovery.discover import JSON_KEYS, DiscoveryRequest, StackDiscovery, discover_stack
from generator.discovery.http import DiscoveryError
from generator.discovery.identity import ServicePrincipal
from generator.discovery.metadata import StackMetadata, parse_metadata

__all__ = [
    "JSON_KEYS",
    "DiscoveryError",
    "DiscoveryRequest",
    "ServicePrincipal",
    "StackDiscovery",
    "StackMetadata",
    "discover_stack",
    "parse_metadata",
]
