from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "sfpserver.engine"
    label = "engine"
    verbose_name = "Workflow engine"

    def ready(self) -> None:
        from sfpserver.engine import canvas  # noqa: F401 - registers the resolver of plain Celery tasks
