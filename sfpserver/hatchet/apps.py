from django.apps import AppConfig


class HatchetConfig(AppConfig):
    name = "sfpserver.hatchet"
    label = "hatchet"
    verbose_name = "Hatchet-compatible SDK"
