from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "sfpserver.vault"
    label = "vault"
    verbose_name = "Credential vault"

    def ready(self) -> None:
        from sfpserver.vault import checks  # noqa: F401 - registers the vault's system checks
