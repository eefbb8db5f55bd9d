"""The script as shipped and as it travels: validation, bootstrap size, payload decoding."""

from __future__ import annotations

import base64
import gzip
import re

import pytest

from collectors.errors import CollectionError
from collectors.hyperv import script as ps
from collectors.hyperv.clixml import decode
from collectors.hyperv.collect import CollectSettings
from collectors.hypervisor import ExchangeSelector


def test_shipped_script_is_read_only_and_marked() -> None:
    text = ps.script_text()
    assert text.startswith(ps.MARKER)
    assert text.isascii()
    cmdlets = set(re.findall(r"\b([A-Z][a-z]+-[A-Z][A-Za-z]+)\b", text))
    # Remove-TypeData only changes this PowerShell session's type table (ConvertTo-Json arrays).
    session_only = {"Import-Module", "Remove-TypeData", "New-Object", "Where-Object", "ForEach-Object",
                    "ConvertTo-Json", "Get-Variable"}
    assert {c for c in cmdlets if not c.startswith("Get-")} <= session_only
    assert {"Get-VM", "Get-VMHost", "Get-VMSnapshot", "Get-VMHardDiskDrive", "Get-VHD", "Get-CimInstance",
            "Get-Service", "Get-ClusterResource", "Get-ClusterParameter"} <= cmdlets


@pytest.mark.parametrize("bad", ["EXCH'; Remove-VM *", "a$b", "x`y", "a;b", "line\nbreak", "", "x" * 65])
def test_patterns_that_could_become_code_are_refused(bad: str) -> None:
    with pytest.raises(CollectionError) as info:
        ps.build_script([bad])
    assert info.value.reason == "config"


def test_patterns_line_is_the_only_interpolation() -> None:
    script = ps.build_script(["EXCH*", "MBX-0[1-3]", "Mail server?"])
    first, rest = script.split("\n", 1)
    assert first == "$NdoVhdVmPatterns = @('EXCH*', 'MBX-0[1-3]', 'Mail server?')"
    assert rest == ps.script_text()


def test_bootstrap_fits_any_command_line() -> None:
    line = " ".join([ps.POWERSHELL, *ps.command_arguments()])
    assert len(line) < 1000
    decoded = base64.b64decode(ps.command_arguments()[-1]).decode("utf-16-le")
    assert decoded == ps.BOOTSTRAP and "[Console]::In.ReadToEnd()" in decoded
    assert "-ExecutionPolicy" not in line


def test_payload_round_trip_and_damage() -> None:
    data = {"Schema": 1, "Ok": True, "VMs": [{"Name": "Zürich"}]}
    assert ps.decode_payload(b"  " + ps.encode_payload(data) + b"\r\n") == data
    for bad in (b"", b"not base64!", base64.b64encode(b"not gzip"),
                base64.b64encode(gzip.compress(b"\xff\xfe")), base64.b64encode(gzip.compress(b"[1]")),
                base64.b64encode(gzip.compress(b'{"Schema": 2}')),
                ps.encode_payload(data)[:-20]):
        with pytest.raises(CollectionError) as info:
            ps.decode_payload(bad)
        assert info.value.reason == "malformed"


def test_vhd_patterns_follow_the_selector() -> None:
    by_name = CollectSettings("t", ExchangeSelector(name_patterns=("EXCH*",), annotation_marker=""))
    assert by_name.vhd_patterns() == ("EXCH*",)
    with_marker = CollectSettings("t", ExchangeSelector(name_patterns=("EXCH*",), annotation_marker="[x]"))
    assert with_marker.vhd_patterns() == ("*",)


def test_clixml_decoding() -> None:
    err = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
           b'<Obj S="progress" RefId="0"><MS><PR N="Record"><AV>Preparing modules for first use.</AV></PR></MS></Obj>'
           b'<S S="Error">Get-VM : You do not have permission_x000D__x000A_</S>'
           b'<S S="Error">At line:1 char:1_x000D__x000A_</S></Objs>')
    assert decode(err) == "Get-VM : You do not have permission At line:1 char:1"
    progress_only = err.split(b"<S S=")[0] + b"</Objs>"
    assert decode(progress_only) == ""
    assert decode(b"The command line is too long.\r\n") == "The command line is too long."
