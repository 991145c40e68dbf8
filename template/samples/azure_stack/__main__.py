"""Show the settings this project uses: ``.venv/bin/python -m samples.azure_stack`` (from the project's folder)."""

from __future__ import annotations

import sys

from . import ConfigError, load_config, stack_bundle


def show() -> None:
    config = load_config()
    print(f"Resource Manager: {config.resource_manager}")
    print(f"Profile:          {config.known_profile}")
    print(f"Tenant:           {config.tenant_id} (authority {config.authority_host})")
    print(f"Subscription:     {config.subscription_id} in {config.location}")
    print(f"Signs in with:    {'certificate ' + config.certificate_path if config.certificate_path else 'client secret'}")
    print(f"Trusts:           {stack_bundle(config)}")


if __name__ == "__main__":
    try:
        show()
    except ConfigError as exc:
        sys.exit(f"error: {exc}")
