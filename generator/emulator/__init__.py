"""A local Azure Stack Hub: real HTTPS, Azure AD or ADFS identity, and Resource Manager.

The unmodified Azure SDK for Python talks to it as to a real Stack. See :class:`Emulator`.
"""

from generator.emulator.config import ADFS, AZURE_AD, EmulatorConfig
from generator.emulator.faults import FaultPlan
from generator.emulator.server import Emulator

__all__ = ["ADFS", "AZURE_AD", "Emulator", "EmulatorConfig", "FaultPlan"]
