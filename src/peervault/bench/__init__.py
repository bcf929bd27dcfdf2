"""Benchmark helpers: a WAN-like link (delay, loss, cuts) between daemons in network namespaces."""
