"""PeerVault: peer-to-peer sync for Markdown vaults over Iroh, merged with Loro CRDTs."""

__version__ = "0.1.0"
