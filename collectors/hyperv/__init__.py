"""Hyper-V over WinRM: a shipped read-only PowerShell script, a pywinrm transport, a pure parser.

See docs/hyperv.md (and its Sources section) for the why of each piece.
"""
