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

from exporter import allocator, takeover_step
from exporter.config import Config, split_listen_address
from exporter.crossderive import CrossDeriver
from exporter.gcsettings import GC_YOUNG_THRESHOLD as GC_YOUNG_THRESHOLD  # re-exported: benches and tests
from exporter.gcsettings import settle_gc
from exporter.http import HttpServer, WebApp
from exporter.links import Links
from exporter.publisher import Publisher
from exporter.scheduler import STARTUP_SPREAD_SECONDS, Scheduler
from exporter.store import Store
from exporter.webconfig import WebConfigManager

log = logging.getLogger(__name__)

class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        listen_address: str | None = None,
        startup_spread_seconds: float = STARTUP_SPREAD_SECONDS,
        debounce_seconds: float = 0.05,
        cross_interval_seconds: float = 1.0,
    ) -> None:
        """``listen_address`` overrides ``config.web.listen_address`` (tests pass 127.0.0.1:0)."""
        self.config = config
        self.listen_address = listen_address or config.web.listen_address
        self.store = Store()
        self.scheduler = Scheduler(config, self.store, startup_spread_seconds=startup_spread_seconds)
        self.publisher = Publisher(self.store, debounce_seconds=debounce_seconds)
        self.publisher.admission_stats = self.scheduler.admission.stats
        # Cross-target steps (the takeover join) run in their own thread after a change, over the
        # latest snapshots; their result re-notifies the store, which the deriver then ignores
        # (its inputs did not change) and the publisher picks up.
        self.cross = CrossDeriver(self.store, [takeover_step.step(config)], min_interval_seconds=cross_interval_seconds)
        self.store.set_listener(self._changed)
        self.http: HttpServer | None = None

    def start(self) -> None:
        """Raises ``ConfigError`` for an unusable web config file, ``OSError`` when it cannot listen."""
        web = WebConfigManager(self.config.web.config_file) if self.config.web.config_file else None
        host, port = split_listen_address(self.listen_address)
        app = WebApp(
            self.store,
            self.publisher,
            sharding=self.config.sharding,
            configured=tuple(t.name for t in self.config.targets),
            security=web.current().describe() if web is not None else "none (plain HTTP, no authentication)",
            links=Links(self.config.links.runbook_base_url, self.config.links.grafana_url),
        )
        self.http = HttpServer(host, port, app, self.config.web.max_requests, web)
        if web is not None:
            log.info("web config %s: %s", web.path, web.current().describe())
        allocator.tune()  # before the collector threads: arenas are made as threads contend
        settle_gc()
        self.publisher.start()
        self.cross.start()
        self.scheduler.start()
        self.http.start()
        log.info("listening on %s (metrics at %smetrics)", self.url, self.url)

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. ``http://127.0.0.1:9940/`` (the bound port, not 0;
        ``https://`` when the web config enables TLS)."""
        if self.http is None:
            raise RuntimeError("daemon not started")
        return self.http.url

    def _changed(self) -> None:
        self.cross.notify()
        self.publisher.notify()

    def stop(self) -> None:
        self.scheduler.stop()
        if self.http is not None:
            self.http.stop()
        self.cross.stop()
        self.publisher.stop()
        log.info("stopped")

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
