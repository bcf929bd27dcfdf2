"""mDNS on the LAN (python-zeroconf): announce this device, browse for the others, and follow
this machine's own address changes. The only module that imports zeroconf, and it is
imported only when LAN discovery is on: with `--no-mdns` there is no socket and no task.

What is announced is decided in protocol/discovery.py; this module only carries it. When
the machine's IPv4 addresses change it moves its sockets to the new interfaces and announces
the new addresses at once, so the other devices learn them within a second instead of
waiting for a record to expire. On Linux the kernel says when (a netlink socket subscribed
to address changes: no wake-up while nothing changes); elsewhere the addresses are read
every `poll_s` seconds (one getifaddrs call).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)

RESOLVE_MS = 3000  # asking for a service's address records, when an announcement lacked them
SETTLE_S = 0.3  # a move is a deletion then an addition (DHCP, `ip addr`): one look after both
RTMGRP_IPV4_IFADDR = 0x10  # linux/rtnetlink.h: the multicast group of IPv4 address changes
Found = Callable[[dict[bytes, bytes | None], list[str], int | None], None]


def own_addresses() -> list[str]:
    """This machine's IPv4 addresses a LAN peer could dial (no loopback, no link-local)."""
    out = set()
    for adapter in ifaddr.get_adapters():
        for a in adapter.ips:
            if a.is_IPv4:
                ip = ipaddress.IPv4Address(a.ip)
                if not (ip.is_loopback or ip.is_link_local):
                    out.add(str(ip))
    return sorted(out)


def address_events() -> socket.socket | None:
    """A netlink socket that becomes readable when an IPv4 address is added or removed
    (Linux), or None where there is none (then the addresses are polled)."""
    family, proto = getattr(socket, "AF_NETLINK", None), getattr(socket, "NETLINK_ROUTE", None)
    if family is None or proto is None:
        return None
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        sock.setblocking(False)
        sock.bind((0, RTMGRP_IPV4_IFADDR))
    except OSError:
        return None
    return sock


def _drain(sock: socket.socket) -> None:
    """The events only say "something changed": read them all, the addresses are read anew."""
    while True:
        try:
            if not sock.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:  # ENOBUFS: events were lost, which is why the addresses are read anyway
            continue


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():  # the reader may fire again before this task runs
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


class Lan:
    def __init__(
        self,
        *,
        service_type: str,
        name: str,
        properties: dict[str, str],
        port: int,
        poll_s: float,
        on_found: Found,
        on_moved: Callable[[list[str]], None],
    ) -> None:
        self.service_type = service_type
        self.name = f"{name}.{service_type}"
        self.server = f"{name}.local."  # the instance's name: never the machine's host name
        self.properties = properties
        self.port = port
        self.poll_s = poll_s
        self.on_found = on_found
        self.on_moved = on_moved
        self.addresses: list[str] = []
        self._azc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _service(self, addresses: list[str]) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            self.service_type,
            self.name,
            port=self.port,
            properties=self.properties,
            server=self.server,
            parsed_addresses=addresses,
        )

    async def start(self) -> None:
        self.addresses = own_addresses()
        self._azc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
        self._info = self._service(self.addresses)
        await self._azc.async_register_service(self._info, allow_name_change=True)
        self._browser = AsyncServiceBrowser(self._azc.zeroconf, self.service_type, handlers=[self._changed])
        self._spawn(self._watch())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    def _changed(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if name != self.name and state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            self._spawn(self._resolve(name))

    async def _resolve(self, name: str) -> None:
        if self._azc is None:
            return
        info = AsyncServiceInfo(self.service_type, name)
        if not await info.async_request(self._azc.zeroconf, RESOLVE_MS):
            log.debug("LAN announcement %s: no address records", name)
            return
        self.on_found(dict(info.properties), info.parsed_addresses(IPVersion.V4Only), info.port)

    async def _watch(self) -> None:
        events = address_events()
        retry = False  # the last change could not be announced: look again after poll_s
        try:
            while True:
                if events is None or retry:
                    await asyncio.sleep(self.poll_s)
                else:
                    await _readable(events)
                    await asyncio.sleep(SETTLE_S)
                if events is not None:
                    _drain(events)
                retry = not await self._check()
        finally:
            if events is not None:
                events.close()

    async def _check(self) -> bool:
        """Compare the machine's addresses with those announced; announce the new ones.
        False: the announcement could not be updated (an interface went away meanwhile)."""
        now = own_addresses()
        if now == self.addresses or self._azc is None or not now:
            return True  # no address at all (between DHCP leases): wait for the new one
        log.info("this machine's addresses changed: %s -> %s", ", ".join(self.addresses) or "none", ", ".join(now))
        try:
            await self._azc.async_update_interfaces()
            self._info = self._service(now)
            await self._azc.async_update_service(self._info)
        except Exception as exc:  # noqa: BLE001 - retried after poll_s
            log.info("LAN announcement not updated yet: %s", exc)
            return False
        self.addresses = now
        self.on_moved(now)
        return True

    async def close(self) -> None:
        """Say goodbye (peers drop our records at once), then release the sockets."""
        for task in list(self._tasks):
            task.cancel()
        azc, self._azc = self._azc, None
        if azc is None:
            return
        with contextlib.suppress(Exception):
            if self._browser is not None:
                await self._browser.async_cancel()
            await asyncio.wait_for(azc.async_unregister_all_services(), 1.0)
        with contextlib.suppress(Exception):
            await azc.async_close()
