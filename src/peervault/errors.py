"""One error hierarchy. Each docstring is the user-facing explanation; the CLI
maps every subclass to a one-line message and an exit code in one place."""


class PeerVaultError(Exception):
    """Something went wrong in PeerVault."""

    exit_code = 1


class NotAVault(PeerVaultError):
    """The folder is not a PeerVault vault: run `peervault init FOLDER` first."""

    exit_code = 2


class VaultBusy(PeerVaultError):
    """Another PeerVault process (a running daemon) holds this vault."""

    exit_code = 3


class BadTicket(PeerVaultError):
    """The pairing ticket is malformed, expired or already used: ask for a new one."""

    exit_code = 4


class PairingRefused(PeerVaultError):
    """The other device refused to pair."""

    exit_code = 4


class NoPeerReachable(PeerVaultError):
    """No paired device could be reached."""

    exit_code = 5


class VaultGone(PeerVaultError):
    """The vault folder disappeared or was replaced while PeerVault ran: sync stopped, and
    nothing was deleted on other devices. Put the folder back and start PeerVault again."""


class ProtocolError(PeerVaultError):
    """A peer sent something that breaks the PeerVault wire protocol."""


class FrameTooLarge(ProtocolError):
    """A frame is larger than the protocol allows."""


class UnsafePath(PeerVaultError):
    """A path from a peer is not a safe relative path inside the vault."""


class StoreCorrupt(PeerVaultError):
    """The vault database under .peervault/ cannot be read."""


class StoreUnavailable(PeerVaultError):
    """A write to the vault database failed (a full disk): nothing was committed."""
