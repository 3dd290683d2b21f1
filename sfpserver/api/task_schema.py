"""OpenAPI for the task types: `POST tasks` takes one of them, told apart by `type` (a discriminator), and each
type's `data` is the JSON schema of its own input model (sfpserver/submissions/task_types.py)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from sfpserver.submissions import task_types

REF = "#/components/schemas/{model}"
SUBMIT = "SubmitTaskRequest"
PATH, METHOD = "/sfp/api/tasks", "post"


def add_task_types(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: one request schema per task type, and `data`'s fields for each."""
    operation = result.get("paths", {}).get(PATH, {}).get(METHOD)
    if operation is None:
        return result
    components = result.setdefault("components", {}).setdefault("schemas", {})
    data_refs = _data_schemas(components)
    mapping = {name: _type_schema(components, name, data_refs.get(name)) for name in task_types.known_types()}
    body = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    for content in operation.get("requestBody", {}).get("content", {}).values():
        content["schema"] = body
    return result


def _data_schemas(components: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The input models' schemas into components (shared models once); a `$ref` to each type's model."""
    models = {name: task_types.input_model(found) for name, found in task_types.TASK_TYPES.items()}
    unique = list({model for model in models.values() if model is not None})
    keys, schema = models_json_schema([(model, "validation") for model in unique], ref_template=REF)
    for name, definition in schema.get("$defs", {}).items():
        components.setdefault(name, definition)
    refs = {model: keys[(model, "validation")] for model in unique}
    return {name: refs[model] for name, model in models.items() if model is not None}


def _type_schema(components: dict[str, Any], name: str, data: dict[str, Any] | None) -> str:
    found = task_types.TASK_TYPES[name]
    component = f"{name[0].upper()}{name[1:]}Task"
    components[component] = {
        "description": f"`{name}`: {found.summary} (workflow `{found.workflow}`)".replace(": (", " ("),
        "allOf": [
            {"$ref": REF.format(model=SUBMIT)},
            {
                "type": "object",
                "required": ["type", "data"],
                "properties": {"type": {"type": "string", "enum": [name]}, "data": data or {"type": "object"}},
            },
        ],
    }
    return REF.format(model=component)
