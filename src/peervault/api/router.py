"""The control API's routes: a method and a path pattern (`/vaults/{vault}/peers/{device}`)
to a handler, with the path's parameters. An unknown path is 404, a known path with
another method 405 (naming the methods it takes); HEAD is answered as GET."""

from __future__ import annotations

from .httpserver import Handler, HttpError, Request


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, tuple[str, ...], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, tuple(pattern.split("/")), handler))

    def find(self, request: Request) -> Handler:
        """The handler for the request; its path parameters are set in request.match_info."""
        method = "GET" if request.method == "HEAD" else request.method
        segments = request.path.split("/")
        allowed: list[str] = []
        for route_method, pattern, handler in self._routes:
            params = _match(pattern, segments)
            if params is None:
                continue
            if route_method == method:
                request.match_info = params
                return handler
            allowed.append(route_method)
        if allowed:
            raise HttpError(405, ", ".join(sorted(set(allowed))))
        raise HttpError(404, "no route")


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want.startswith("{") and want.endswith("}"):
            if not got:
                return None
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params
