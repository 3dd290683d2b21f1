from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "sfpserver.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from sfpserver.monitoring import checks  # noqa: F401 - registers the system checks
