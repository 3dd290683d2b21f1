from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "sfpserver.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
