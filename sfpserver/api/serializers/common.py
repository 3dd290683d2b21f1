"""Pieces shared by the API's serializers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A request body serializer that refuses fields it does not know, naming them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return super().to_internal_value(data)


class ChoiceField(serializers.ChoiceField):
    """A choice whose refusal lists the valid ones: `"x" is not a valid choice; one of: a, b, c`."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        super().__init__(choices, **kwargs)
        valid = ", ".join(str(choice) for choice in self.choices).replace("{", "{{").replace("}", "}}")
        self.error_messages["invalid_choice"] = f'"{{input}}" is not a valid choice; one of: {valid}'


class MessageResponse(serializers.Serializer):
    message = serializers.CharField()
