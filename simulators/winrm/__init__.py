"""A WinRM (WS-Management shell) simulator answering ndo-exporter's Hyper-V collection script."""

from simulators.winrm.faults import Faults
from simulators.winrm.scenario import Scenario, scenario_names
from simulators.winrm.server import WinRMSimulator

__all__ = ["Faults", "Scenario", "WinRMSimulator", "scenario_names"]
