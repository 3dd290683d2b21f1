"""ASGI entry point: `uvicorn config.asgi:application`. HTTP goes to Django (REST, admin, dashboard), but for the
plain triggers, which sfpserver/api/fast_submit.py answers; WebSocket to the live feed (sfpserver/live), which
authenticates by token or by the Django session."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # before the consumers are imported (what get_asgi_application does)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from config.lanes import LanedASGIHandler  # noqa: E402
from sfpserver.api.fast_submit import FastSubmit  # noqa: E402
from sfpserver.engine import services as engine  # noqa: E402
from sfpserver.live.routing import websocket_urlpatterns  # noqa: E402

django_asgi_app = LanedASGIHandler(settings.API_THREADS)  # requests on long-lived threads: config/lanes.py

application = ProtocolTypeRouter(
    {
        # The dashboard's script and the admin's styles, straight from the apps (SERVE_STATIC=false to leave
        # them to a proxy that serves `collectstatic`'s STATIC_ROOT).
        "http": FastSubmit(
            ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app,
            lanes=django_asgi_app,  # plain triggers on the same lanes, without Django's request cycle
        ),
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)

engine.load_workflow_modules()  # now, not on the first trigger (~0.25 s of imports it would wait out)

# What is loaded by now (Django, DRF, the URLconf and every view it imports) lives as long as the process: frozen,
# the collector's full passes no longer scan it. They did, every few seconds under load: ~100 ms pauses that every
# request in flight waited out (bench/api_latency.py's max and p99).
get_resolver().url_patterns  # noqa: B018 - the URLconf, imported now rather than by the first request
gc.freeze()
