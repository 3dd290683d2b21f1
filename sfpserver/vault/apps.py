from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "sfpserver.vault"
    label = "vault"
    verbose_name = "Credential vault"

    def ready(self) -> None:
        from sfpserver.engine.services import retention_due
        from sfpserver.vault import checks  # noqa: F401 - registers the vault's system checks
        from sfpserver.vault.retention import on_retention_due

        retention_due.connect(on_retention_due, dispatch_uid="vault.prune_audit")
