"""The daemon's timers: when to push local changes, settle saves, retry writes, rewrite status.

Each is one `call_later` handle, set only while there is something to wait for, so an
idle daemon has no timer ticking. What each timer then does belongs to another part
(the engine, the events' push of local changes, the status file); this module only
decides when.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..errors import VaultGone
from ..memory import trim_heap
from ..sync.debounce import Debouncer
from ..sync.engine import Engine

log = logging.getLogger(__name__)

RETRY_WRITES_S = 10.0  # a disk write that failed (disk full) is tried again after this, then less often
STATUS_DELAY_S = 1.0  # daemon.json is rewritten at most this often, however much changes
SHED_IDLE_S = 20.0  # this long after the last change, the engine drops what it can load again
RESCAN_SHARE = 0.0002  # the periodic backstop rescan's CPU, as a share of one core, at most
RESCAN_MAX_S = 3600.0  # but a backstop rescan at least once an hour (Syncthing's, with a watcher)


def rescan_after(interval_s: float, cpu_s: float) -> float:
    """Seconds until the next backstop rescan (the watcher reports changes; the rescan
    catches what it may have missed), given the CPU the last one took: the configured
    interval, or longer where rescanning that often would cost more than RESCAN_SHARE of a
    core. The `real` tier's 11,004 files take ~0.3 s, 0.5 % of a core every 60 s: there the
    rescan runs every 25 min; a vault of 1,000 notes (~25 ms) keeps the minute."""
    return max(interval_s, min(cpu_s / RESCAN_SHARE, RESCAN_MAX_S))


class Timers:
    def __init__(
        self,
        engine: Engine,
        debounce_s: float,
        *,
        flush: Callable[[set[str] | None], None],
        write_status: Callable[[bool], None],
        kick_blobs: Callable[[], None],
        halt: Callable[[VaultGone], None],
    ) -> None:
        self.engine = engine
        self._flush = flush
        self._write_status = write_status
        self._kick_blobs = kick_blobs
        self._halt = halt
        self._debouncer = Debouncer(debounce_s)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._settle_handle: asyncio.TimerHandle | None = None
        self._status_handle: asyncio.TimerHandle | None = None
        self._retry_handle: asyncio.TimerHandle | None = None
        self._shed_handle: asyncio.TimerHandle | None = None
        self._active_at = 0.0  # monotonic time of the last change (mark_status)
        self._retry_delay = RETRY_WRITES_S

    # ------------------------------------------------------------------ local changes
    def schedule_flush(self) -> None:
        """Push what the debouncer says is due now; wake again when the rest is."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._active()  # local changes (with no peer connected, nothing else marks them)
        now = time.monotonic()
        ready, wake = self._debouncer.due(self.engine.pending(), now)
        if ready:
            self._flush(ready)
        if wake is not None:
            self._flush_handle = asyncio.get_running_loop().call_later(max(wake - now, 0.0), self.schedule_flush)

    def set_debounce(self, seconds: float) -> None:
        """A new batch window (the dashboard's settings), from the next change on."""
        self._debouncer.window = seconds

    def schedule_settle(self) -> None:
        """Wake up when a possibly half-saved file has had time to settle (see Engine.settle)."""
        when = self.engine.next_settle()
        if when is None or self._settle_handle is not None:
            return
        self._settle_handle = asyncio.get_running_loop().call_later(max(when - time.time(), 0.0) + 0.01, self._settle)

    def _settle(self) -> None:
        self._settle_handle = None
        try:
            self.engine.settle(time.time())
        except VaultGone as exc:
            self._halt(exc)
            return
        except Exception:  # noqa: BLE001 - retried at the next reconcile
            log.exception("could not finish settling local changes")
        self._kick_blobs()
        self.schedule_retry()
        self.schedule_flush()
        self.schedule_settle()
        self.mark_status()  # settling may have held deletions: the status write announces them

    # ------------------------------------------------------------------ failed writes
    def schedule_retry(self) -> None:
        """Disk writes that failed (a full disk, say) are retried every 10 s until they succeed:
        a timer only while there is something to retry."""
        if not self.engine.failed_writes:
            self._retry_delay = RETRY_WRITES_S
        elif self._retry_handle is None:
            self._retry_handle = asyncio.get_running_loop().call_later(self._retry_delay, self._retry_writes)
            self._retry_delay = min(self._retry_delay * 2, 600.0)  # a lasting problem is not hammered

    def _retry_writes(self) -> None:
        self._retry_handle = None
        try:
            self.engine.retry_failed_writes(time.time())
        except Exception as exc:  # noqa: BLE001 - try again later
            log.warning("could not retry failed writes: %s", exc)
        self.mark_status()
        self.schedule_retry()

    # ------------------------------------------------------------------ status
    def mark_status(self) -> None:
        """Something changed: rewrite daemon.json within a second (once, however many changes),
        and shed memory once things have been quiet for a while (`_shed_when_idle`)."""
        if self._status_handle is None:
            self._status_handle = asyncio.get_running_loop().call_later(STATUS_DELAY_S, self.write_status)
        self._active()

    def _active(self) -> None:
        """Something happened (a change, local or a peer's): shed memory once quiet again."""
        self._active_at = time.monotonic()
        if self._shed_handle is None:
            self._shed_handle = asyncio.get_running_loop().call_later(SHED_IDLE_S, self._shed_when_idle)

    def _shed_when_idle(self) -> None:
        """Nothing changed for SHED_IDLE_S: the engine drops the index's document (a rename or
        a peer's update loads it again), so an idle daemon does not hold it, and the heap's
        freed pages go back to the system. Once per quiet spell: no timer while idle."""
        self._shed_handle = None
        quiet = time.monotonic() - self._active_at
        if quiet < SHED_IDLE_S:
            self._shed_handle = asyncio.get_running_loop().call_later(SHED_IDLE_S - quiet, self._shed_when_idle)
            return
        try:
            shed = self.engine.shed_memory()
        except Exception:  # noqa: BLE001 - memory only: tried again after the next change
            log.exception("could not shed memory")
            shed = False
        # Trimmed even when nothing was shed: the activity since the last trim (a peer's sync
        # served, say) touched freed pages all over the heap (the `real` tier: 3 MB).
        trim_heap()
        if shed:
            self.mark_status()  # daemon.json shows the memory it now holds

    def write_status(self, running: bool = True) -> None:
        """Rewrite daemon.json now (start, stop, or `status` asking for fresh figures)."""
        if self._status_handle is not None:
            self._status_handle.cancel()
            self._status_handle = None
        self._write_status(running)
