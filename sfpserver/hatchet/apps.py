from django.apps import AppConfig


class HatchetConfig(AppConfig):
    name = "sfpserver.hatchet"
    label = "hatchet"
    verbose_name = "Hatchet-compatible SDK"

    def ready(self) -> None:
        from sfpserver.hatchet import webhooks
        from sfpserver.vault.services import register_resealer

        register_resealer("webhook", webhooks.reseal_all)
