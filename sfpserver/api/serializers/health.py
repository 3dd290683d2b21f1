from __future__ import annotations

from rest_framework import serializers


class PingResponse(serializers.Serializer):
    status = serializers.CharField()


class CheckResponse(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class ReadinessResponse(serializers.Serializer):
    ready = serializers.BooleanField()
    checks = serializers.DictField(child=CheckResponse(), help_text="postgres, redis, migrations, workers")


class LinkResponse(serializers.Serializer):
    href = serializers.URLField()
    about = serializers.CharField()


class ApiIndexResponse(serializers.Serializer):
    name = serializers.CharField()
    auth = serializers.CharField()
    links = serializers.DictField(child=LinkResponse(), help_text="tasks, runs, workers, schedules, schema, docs, ...")
