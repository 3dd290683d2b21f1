from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sfpserver.accounts"
    label = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self) -> None:
        from sfpserver.accounts import checks  # noqa: F401 - registers the system checks
