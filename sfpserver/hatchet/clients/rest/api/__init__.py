"""Hatchet's generated REST API classes (`hatchet_sdk.clients.rest.api`): there is no REST client to give them
here (the SDK reads Postgres through the engine), so each says so when called."""

from __future__ import annotations

from typing import Any, NoReturn


class NoRestApi:
    """Hatchet's generated REST API class, without a REST client: any call raises NotImplementedError."""

    def __init__(self, api_client: Any = None) -> None:
        self.api_client = api_client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            raise NotImplementedError(
                f"{type(self).__name__}.{name}: the SDK has no REST client; use the hatchet.* clients instead"
            )

        return refuse
