"""The daemon's local control API: HTTP/1.1 and JSON on a Unix socket (and loopback TCP).

    access.py      who may call: the token file, Bearer check, Origin allow-list (pure)
    prometheus.py  /metrics in Prometheus text format (pure)
    app.py         the application: routes from service/operations.py, access, JSON errors, SSE
    httpserver.py  HTTP/1.1 on asyncio streams, strict with hostile input (no web framework)
    router.py      method and path pattern to handler, with the path's parameters
    server.py      the listening sockets (Unix, loopback TCP) and their shutdown
    dashboard.py   the dashboard's page, static files and one-time login (docs/DASHBOARD.md)
    client.py      the CLI's client: the standard library only, so commands start fast
    sockpath.py    where the control socket is (the daemon binds it, the CLI connects)

docs/openapi.json describes every route; docs/API.md shows them with curl.
"""
