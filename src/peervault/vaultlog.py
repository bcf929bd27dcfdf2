"""Which vault a log line is about, when one process serves several (daemon/host.py).

Each vault's supervisor task sets `VAULT_TAG`; asyncio copies the context into every task
the vault's daemon creates (and `asyncio.to_thread` into its threads), so a line logged
anywhere below it carries the vault's name without any module passing it along. The
handler's filter puts it in `%(vault)s`: empty when the process serves one vault.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

VAULT_TAG: ContextVar[str] = ContextVar("peervault_vault", default="")
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(vault)s%(name)s: %(message)s"


class VaultTagFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        tag = VAULT_TAG.get()
        record.vault = f"[{tag}] " if tag else ""
        return True


def tag_handlers(logger: logging.Logger | None = None) -> None:
    """Give every handler of the root logger the filter (once), so FORMAT always resolves."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, VaultTagFilter) for f in handler.filters):
            handler.addFilter(VaultTagFilter())
