"""OpenAPI for the task types: `POST tasks` takes one of them, told apart by `type` (a discriminator), and each
type's `data` is the JSON schema of its own input model (sfpserver/submissions/task_types.py)."""

from __future__ import annotations

import copy
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
        # Spelled out rather than by $ref, so that schema-driven clients and fuzzers can generate each type.
        "anyOf": [_inlined(components, {"$ref": ref}) for ref in mapping.values()],  # disjoint: one matches
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
        components.setdefault(name, openapi_30(definition))
    refs = {model: keys[(model, "validation")] for model in unique}
    return {name: refs[model] for name, model in models.items() if model is not None}


def _type_schema(components: dict[str, Any], name: str, data: dict[str, Any] | None) -> str:
    """SubmitTaskRequest with `type` fixed to this type and `data` its input model (whole, not an allOf)."""
    found = task_types.TASK_TYPES[name]
    schema = copy.deepcopy(components[SUBMIT])
    schema["properties"]["type"] = {"type": "string", "enum": [name]}
    schema["properties"]["data"] = data or {"type": "object", "additionalProperties": {}}
    summary = f"{found.summary} " if found.summary else ""
    schema["description"] = f"`{name}`: {summary}(workflow `{found.workflow}`)"
    component = f"{name[0].upper()}{name[1:]}Task"
    components[component] = schema
    return REF.format(model=component)


def _inlined(components: dict[str, Any], schema: Any) -> Any:
    if isinstance(schema, list):
        return [_inlined(components, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return _inlined(components, components[ref.rsplit("/", 1)[1]])
    return {key: _inlined(components, value) for key, value in schema.items()}


def openapi_30(schema: Any) -> Any:
    """Pydantic's JSON Schema in OpenAPI 3.0 terms: an optional value is `nullable`, not `anyOf [..., null]`."""
    if isinstance(schema, list):
        return [openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: openapi_30(value) for key, value in schema.items()}
    options = converted.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del converted["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            converted.update(rest[0])
        else:
            converted["allOf" if len(rest) == 1 else "anyOf"] = rest
        converted["nullable"] = True
    if "const" in converted:
        converted["enum"] = [converted.pop("const")]
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if not isinstance(converted.get(exclusive, False), bool):  # a number in JSON Schema, a flag in 3.0
            converted[bound], converted[exclusive] = converted[exclusive], True
    return converted
