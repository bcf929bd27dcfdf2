"""The only importer of iroh: endpoint set-up, the write-path patch and framed streams.

Set here, before anything of iroh runs: `RUST_LIB_BACKTRACE=0` unless the environment
says otherwise. With `RUST_BACKTRACE=1` (a developer's shell, some CI images) Rust's
errors capture a backtrace, and iroh's bindings resolve it when they turn one into an
IrohError: the first such error (a peer closing a connection during its handshake, as
two devices dialling each other at once do) loads the symbols of iroh's 18 MB library
and keeps them: +52 MB of RSS for the daemon's whole life (docs/PERFORMANCE.md, "A
failed handshake and `RUST_BACKTRACE`"). Rust reads the variable once, at the first
capture; a panic's backtrace still follows `RUST_BACKTRACE`.
"""

import os

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")
