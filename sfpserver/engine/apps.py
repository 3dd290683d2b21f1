from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "sfpserver.engine"
    label = "engine"
    verbose_name = "Workflow engine"

    def ready(self) -> None:
        # the canvas resolver, checks, cron signals, and durable.py's conditions registrar (lifecycle calls it)
        from sfpserver.engine import canvas, checks, cron, durable  # noqa: F401
