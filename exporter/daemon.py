"""The daemon wiring: store -> publisher (exposition builder) -> HTTP, fed by the scheduler.

Used by ``ndo-exporter run``, ``demo`` and the integration tests::

    daemon = Daemon(config)
    daemon.start()            # binds web.listen_address, starts collecting
    print(daemon.url)         # http://127.0.0.1:9940/
    daemon.stop()
"""

from __future__ import annotations

import logging
from types import TracebackType

from exporter.config import Config, ConfigError, split_listen_address
from exporter.http import HttpServer, WebApp
from exporter.publisher import Publisher
from exporter.scheduler import STARTUP_SPREAD_SECONDS, Scheduler
from exporter.store import Store

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        listen_address: str | None = None,
        startup_spread_seconds: float = STARTUP_SPREAD_SECONDS,
        debounce_seconds: float = 0.05,
    ) -> None:
        """``listen_address`` overrides ``config.web.listen_address`` (tests pass 127.0.0.1:0)."""
        self.config = config
        self.listen_address = listen_address or config.web.listen_address
        self.store = Store()
        self.scheduler = Scheduler(config, self.store, startup_spread_seconds=startup_spread_seconds)
        self.publisher = Publisher(self.store, debounce_seconds=debounce_seconds)
        self.store.set_listener(self.publisher.notify)
        self.http: HttpServer | None = None

    def start(self) -> None:
        if self.config.web.config_file is not None:
            raise ConfigError(
                "web.config_file",
                ["web.config_file: TLS and basic auth (exporter-toolkit web-config) are not yet supported; "
                 "remove web.config_file or terminate TLS in front of the exporter"],
            )
        host, port = split_listen_address(self.listen_address)
        self.http = HttpServer(host, port, WebApp(self.store, self.publisher), self.config.web.max_requests)
        self.publisher.start()
        self.scheduler.start()
        self.http.start()
        log.info("listening on %s (metrics at %smetrics)", self.url, self.url)

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. ``http://127.0.0.1:9940/`` (the bound port, not 0)."""
        if self.http is None:
            raise RuntimeError("daemon not started")
        return self.http.url

    def stop(self) -> None:
        self.scheduler.stop()
        if self.http is not None:
            self.http.stop()
        self.publisher.stop()
        log.info("stopped")

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
