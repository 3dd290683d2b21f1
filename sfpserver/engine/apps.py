from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "sfpserver.engine"
    label = "engine"
    verbose_name = "Workflow engine"

    def ready(self) -> None:
        from sfpserver.engine import canvas, checks  # noqa: F401 - register the canvas resolver and checks
