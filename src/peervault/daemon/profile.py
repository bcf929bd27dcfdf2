"""A profile switched while the daemon runs (the Settings page, POST /settings {"profile"}).

A setting that the parts read as they go is applied at once, to the links already open
too: the debounce, the timeouts and backoff of dials and pairing, the heartbeat and the
silence allowed, the batch window, parallel blob fetches, idle suspension, compression,
the document cache (shrunk at once), and the background reconcile (its loop started or
stopped). A setting
fixed when a part was built (the watcher's timings, the LAN discovery's polling) is saved
and takes effect at the next start; the answer lists which, by name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..service.settings import changes

if TYPE_CHECKING:
    from .root import Daemon

RECONCILE_TASK = "LocalChanges.reconcile_loop"


def switch(d: Daemon, new: Config) -> dict[str, list[str]]:
    """Apply `new`'s live settings to the running parts of `d`; the others keep their
    value until the next start (the parts' config says what is in effect)."""
    live, later = changes(d.cfg, new)  # `later`: still different from `new` once applied
    effective = replace(d.cfg, profile=new.profile, **{n: getattr(new, n) for n in live})
    d.cfg = d.conns.cfg = d.local.cfg = d.status.cfg = d.service.cfg = effective
    d.engine.cfg = effective
    d.timers.set_debounce(effective.debounce_ms / 1000)
    d.service.debounce_ms = effective.debounce_ms
    d.blobs.max_parallel = effective.blob_fetches
    cache = d.engine.state.cache
    cache.max_docs, cache.max_bytes = effective.cache_docs, effective.cache_bytes
    cache.shrink()
    for link in list(d.links.values()):
        _retime(link, effective)
    if "background_sync" in live:
        _background_sync(d, effective.background_sync)
    if "idle_suspend_s" in live and effective.idle_suspend_s is None and d.conns.suspended:
        d.conns.dial_now()  # no more suspension: the suspended devices are connected again
    d.timers.mark_status()
    return {"applied": live, "next_start": later}


def _retime(link: Any, cfg: Config) -> None:
    session = link.session
    session.heartbeat_interval = cfg.heartbeat_interval_s
    session.silent_timeout = cfg.peer_silent_timeout_s
    session.window = cfg.max_concurrent_syncs
    session.idle_suspend = cfg.idle_suspend_s
    session.pair_timeout = cfg.pair_timeout_s
    link.stream.compress_threshold = cfg.compress_threshold
    link.retimed()


def _background_sync(d: Daemon, on: bool) -> None:
    running = [t for t in d._tasks if t.get_name() == RECONCILE_TASK and not t.done()]
    if on and not running and d.mode == "run":
        d._start(d.local.reconcile_loop())
    for task in running if not on else []:
        task.cancel()
