"""`ClientConfig` (Hatchet's `hatchet_sdk.config`): what `Hatchet(config=...)` takes.

Used here: `namespace` (prefixed to workflow names, event keys and worker names, as Hatchet does; also read from
`HATCHET_CLIENT_NAMESPACE`), `server_url` (the API's address, also read from `HATCHET_CLIENT_SERVER_URL`), `logger`
and `disable_log_capture` (what that logger writes while a task runs is
stored as the task's log lines), and `debug`. The connection settings (token, host, TLS, gRPC sizes) have
nothing to connect to: given, they warn once (`unsupported.REGISTRY`)."""

from __future__ import annotations

from logging import Logger, getLogger
from typing import overload

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_HOST_PORT = "localhost:7070"
# The fields this SDK acts on; any other one given explicitly warns (`Hatchet(config=...)`).
USED_FIELDS = frozenset({"namespace", "logger", "disable_log_capture", "debug", "server_url"})


def _namespace_from_env() -> str:
    from config.env import env_str

    return env_str("HATCHET_CLIENT_NAMESPACE", "")


def _server_url_from_env() -> str:
    """The platform's HTTP address (webhook URLs are built on it): HATCHET_CLIENT_SERVER_URL, else the API that
    `make run` serves (port API_PORT, 8000 by default)."""
    from config.env import env_int, env_str

    return env_str("HATCHET_CLIENT_SERVER_URL", "") or f"http://127.0.0.1:{env_int('API_PORT', 8000)}"


class ClientTLSConfig(BaseModel):
    strategy: str = "tls"
    cert_file: str | None = None
    key_file: str | None = None
    root_ca_file: str | None = None
    server_name: str = ""


class HealthcheckConfig(BaseModel):
    port: int = 8001
    enabled: bool = False
    bind_address: str | None = "0.0.0.0"


class OpenTelemetryConfig(BaseModel):
    excluded_attributes: list[str] = Field(default_factory=list)
    include_task_name_in_start_step_run_span_name: bool = False


class ClientConfig(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, validate_default=True)

    token: str = ""
    logger: Logger = Field(default_factory=getLogger)
    debug: bool = False
    tenant_id: str = ""
    host_port: str = DEFAULT_HOST_PORT
    server_url: str = Field(default_factory=_server_url_from_env)
    namespace: str = Field(default_factory=_namespace_from_env)
    tls_config: ClientTLSConfig = Field(default_factory=ClientTLSConfig)
    healthcheck: HealthcheckConfig = Field(default_factory=HealthcheckConfig)
    otel: OpenTelemetryConfig = Field(default_factory=OpenTelemetryConfig)
    listener_v2_timeout: int | None = None
    grpc_max_recv_message_length: int = 4 * 1024 * 1024
    grpc_max_send_message_length: int = 4 * 1024 * 1024
    worker_preset_labels: dict[str, str] = Field(default_factory=dict)
    enable_force_kill_sync_threads: bool = False
    enable_thread_pool_monitoring: bool = False
    terminate_worker_after_num_tasks: int | None = None
    disable_log_capture: bool = False
    log_queue_size: int = 1000
    force_shutdown_on_shutdown_signal: bool = False

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, namespace: str) -> str:
        """Lower-cased and ending in `_` (Hatchet's rule); empty stays empty."""
        if not namespace:
            return ""
        return (namespace if namespace.endswith("_") else f"{namespace}_").lower()

    def unused_fields(self) -> list[str]:
        """The fields given explicitly that this SDK does not act on."""
        return sorted(set(self.model_fields_set) - USED_FIELDS)

    @overload
    def apply_namespace(self, resource_name: str, namespace_override: str | None = None) -> str: ...

    @overload
    def apply_namespace(self, resource_name: None, namespace_override: str | None = None) -> None: ...

    def apply_namespace(self, resource_name: str | None, namespace_override: str | None = None) -> str | None:
        """`resource_name` with the namespace in front, unless it already starts with it."""
        if resource_name is None:
            return None
        namespace = namespace_override or self.namespace
        if not namespace or resource_name.startswith(namespace):
            return resource_name
        return namespace + resource_name


__all__ = ["ClientConfig", "ClientTLSConfig", "HealthcheckConfig", "OpenTelemetryConfig"]
