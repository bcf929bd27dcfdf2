"""One error hierarchy. Each docstring is the user-facing explanation; the CLI maps every
subclass to a one-line message and an exit code, and the control API to an HTTP status
and a `code` (the class name), in one place: the class attributes below."""


class PeerVaultError(Exception):
    """Something went wrong in PeerVault."""

    exit_code = 1
    http_status = 400  # the control API's answer when an operation raises it
    retry_after_s: int | None = None  # the API's Retry-After, where asking again soon will do


class BadRequest(PeerVaultError):
    """A request to the control API is malformed: a missing or invalid parameter."""

    http_status = 400


class NotFound(PeerVaultError):
    """No such device, file, version or API resource in this vault."""

    http_status = 404


class Conflict(PeerVaultError):
    """The operation does not fit the vault's state now (for example joining a second vault)."""

    http_status = 409


class Unauthorized(PeerVaultError):
    """A control API request over TCP without the vault's token, or with a wrong one."""

    http_status = 401


class Forbidden(PeerVaultError):
    """A control API request from a web page whose origin is not in the allow-list."""

    http_status = 403


class NotAVault(PeerVaultError):
    """The folder is not a PeerVault vault: run `peervault init FOLDER` first."""

    exit_code = 2


class VaultBusy(PeerVaultError):
    """Another PeerVault process (a running daemon) holds this vault."""

    exit_code = 3
    http_status = 409


class BadTicket(PeerVaultError):
    """The pairing ticket is malformed, expired or already used: ask for a new one."""

    exit_code = 4


class PairingRefused(PeerVaultError):
    """The other device refused to pair."""

    exit_code = 4


class NoPeerReachable(PeerVaultError):
    """No paired device could be reached."""

    exit_code = 5
    http_status = 504


class DaemonNotRunning(PeerVaultError):
    """The command needs the vault's daemon, and none runs: start it with `peervault run VAULT`."""

    exit_code = 6
    http_status = 409


class VaultGone(PeerVaultError):
    """The vault folder disappeared or was replaced while PeerVault ran: sync stopped, and
    nothing was deleted on other devices. Put the folder back and start PeerVault again."""

    http_status = 503


class VaultUnavailable(PeerVaultError):
    """A vault of this daemon is not serving now (starting, restarting after an error, or
    stopped for good); the message says why and what to do."""

    http_status = 503


class FirstImportRunning(VaultUnavailable):
    """The vault's first import is running (in a process of its own, for a large vault): the
    daemon answers its status meanwhile, and everything else once the import has ended, in
    a few seconds. Try again then."""

    retry_after_s = 2  # the API's Retry-After: a client may wait and ask again (api/client.py does)


class ProtocolError(PeerVaultError):
    """A peer sent something that breaks the PeerVault wire protocol."""


class FrameTooLarge(ProtocolError):
    """A frame is larger than the protocol allows."""


class UnsafePath(PeerVaultError):
    """A path from a peer is not a safe relative path inside the vault."""


class StoreCorrupt(PeerVaultError):
    """The vault database under .peervault/ cannot be read."""


class StoreTooNew(PeerVaultError):
    """The vault database was written by a newer PeerVault: opened by this one, notes stored
    in a newer format would read as damaged. Never set aside or rebuilt: upgrade instead."""

    exit_code = 3


class StoreUnavailable(PeerVaultError):
    """A write to the vault database failed (a full disk): nothing was committed."""

    http_status = 507


def by_code(code: str) -> type[PeerVaultError]:
    """The error class the API named (`code` is its class name), for clients that re-raise it."""
    found: type[PeerVaultError] = PeerVaultError
    stack = [PeerVaultError]
    while stack:
        cls = stack.pop()
        if cls.__name__ == code:
            found = cls
        stack.extend(cls.__subclasses__())
    return found
