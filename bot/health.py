"""A small aiohttp server for operators: ``/healthz`` (database and socket state) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.telemetry import Telemetry

Probe = Callable[[], Awaitable[bool]]


def health_app(*, database_ok: Probe, socket_ok: Probe, telemetry: Telemetry) -> web.Application:
    """``/healthz`` answers 200 when the database answers and the websocket is up, else 503."""

    async def healthz(_request: web.Request) -> web.Response:
        db = await database_ok()
        socket = await socket_ok()
        telemetry.database_up.set(1 if db else 0)
        telemetry.socket_connected.set(1 if socket else 0)
        body = {
            "status": "ok" if db and socket else "degraded",
            "database": "ok" if db else "unreachable",
            "socket": "connected" if socket else "disconnected",
        }
        return web.json_response(body, status=200 if db and socket else 503)

    async def metrics(_request: web.Request) -> web.Response:
        payload = generate_latest(telemetry.registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_health_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans up the returned runner."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
