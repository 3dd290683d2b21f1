from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "sfpserver.live"
    label = "live"
    verbose_name = "Live feed and dashboard"

    def ready(self) -> None:
        # Every process that loads the apps (API, workers, scheduler) publishes the engine's changes.
        from sfpserver.live import receivers

        receivers.connect()
