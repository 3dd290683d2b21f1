from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "sfpserver.engine"
    label = "engine"
    verbose_name = "Workflow engine"

    def ready(self) -> None:
        from sfpserver.engine import canvas, checks, cron  # noqa: F401 - the canvas resolver, checks, cron signals
