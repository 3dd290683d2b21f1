from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sfpserver.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from sfpserver.api import schema  # noqa: F401 - registers the bearer-token scheme with drf-spectacular
