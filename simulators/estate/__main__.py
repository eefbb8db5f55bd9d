"""``python -m simulators.estate NAME --out DIR``: write an estate's scenario directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulators.estate.estates import ESTATES
from simulators.estate.write import write_estate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.estate")
    parser.add_argument("name", choices=sorted(ESTATES))
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    written = write_estate(ESTATES[args.name](), args.out)
    for target, path in written.ontap.items():
        print(f"ontap {target}: python -m simulators.ontap --scenario {path}")
    for host, path in written.hyperv.items():
        print(f"hyperv {host}: python -m simulators.winrm --scenario {path}")


if __name__ == "__main__":
    main()
