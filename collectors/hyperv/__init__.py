"""Hyper-V over WinRM: a shipped read-only PowerShell script, a pywinrm transport, a pure parser.

See docs/hyperv.md and shared/reference/hyperv.md for the why of each piece.
"""
