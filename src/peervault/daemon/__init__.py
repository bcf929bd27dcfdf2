"""The daemon: one vault's parts wired together, its tasks, and the order they stop in.

root         Daemon: builds the parts, runs the mode, owns the shutdown order
connections  endpoint, accept, dial with backoff, duplicate dials, low-power suspend
events       what each session event does; local changes pushed to the links
routing      the forwarding rule (pure: the three-peer property test runs it too)
timers       when to push, settle, retry failed writes and rewrite status
status       daemon.json, which `peervault status` reads
local        the folder watcher, the periodic reconcile, the start-up scan
"""

from .events import Outcome
from .root import Daemon

__all__ = ["Daemon", "Outcome"]
