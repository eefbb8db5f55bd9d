"""``python -m exporter``: the same command line as ``ndo-exporter``."""

import sys

from exporter.cli import main

sys.exit(main())
