"""A local Azure Stack Hub: real HTTPS, Azure AD or ADFS identity, and Resource Manager.

The unmodified Azure SDK for Python talks to it as to a real Stack. See :class:`Emulator`.
"""

from azs_emulator.config import ADFS, AZURE_AD, EmulatorConfig
from azs_emulator.faults import FaultPlan
from azs_emulator.server import Emulator

__all__ = ["ADFS", "AZURE_AD", "Emulator", "EmulatorConfig", "FaultPlan"]
