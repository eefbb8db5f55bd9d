"""``python -m tests.golden --update [SCENARIO...]``: regenerate the golden expositions."""

from __future__ import annotations

import argparse
import sys

from tests.golden import scenarios, update


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__)
    parser.add_argument("--update", action="store_true", required=True, help="rewrite the golden files")
    parser.add_argument("names", nargs="*", help="scenarios to regenerate (default: every one)")
    args = parser.parse_args(argv)
    chosen = [(k, n) for k, n in scenarios() if not args.names or n in args.names]
    unknown = set(args.names) - {n for _, n in chosen}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    for kind, name in chosen:
        changed = update(kind, name)
        print(f"{kind}/{name}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
