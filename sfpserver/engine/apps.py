from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "sfpserver.engine"
    label = "engine"
    verbose_name = "Workflow engine"
