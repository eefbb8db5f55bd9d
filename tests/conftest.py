"""Suite-wide isolation.

Commands run in-process (``cli.main``) configure the root logger with a stream handler bound to
whatever ``sys.stderr`` was at that moment: pytest's capture of that test, closed afterwards. Such
a handler left behind makes every later log call print "--- Logging error ---" tracebacks into
other tests' stderr. Each test gets the root logger's handlers and level back as it found them
(handlers the code installs once for good, such as the run-log capture handler, are kept).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers and isinstance(handler, logging.StreamHandler):
            root.removeHandler(handler)
    root.setLevel(level)
