"""Schedules (django-celery-beat periodic tasks): list, read, pause/resume, change the cron."""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.schedules import ScheduleResponse, ScheduleUpdateRequest
from sfpserver.api.views.common import caller, validated
from sfpserver.submissions import schedules
from sfpserver.submissions.visibility import visible_schedules

TAGS = ["schedules"]


class ScheduleListView(APIView):
    capabilities = {"GET": Capability.READ_SCHEDULES}

    @extend_schema(
        tags=TAGS, operation_id="list_schedules", responses={200: ScheduleResponse(many=True)}, summary="Schedules"
    )
    def get(self, request: Request) -> Response:
        shown = list(visible_schedules(caller(request)).select_related("crontab", "interval").order_by("name"))
        operations = schedules.operation_ids([p.id for p in shown])
        rows = [schedules.describe(p, operations.get(p.id)) for p in shown]
        return Response(ScheduleResponse(rows, many=True).data)


class ScheduleDetailView(APIView):
    capabilities = {"GET": Capability.READ_SCHEDULES, "PATCH": Capability.MANAGE_SCHEDULES}

    @extend_schema(tags=TAGS, operation_id="get_schedule", responses={200: ScheduleResponse}, summary="A schedule")
    def get(self, request: Request, schedule_id: int) -> Response:
        periodic = self._visible(request, schedule_id)
        return Response(ScheduleResponse(self._describe(periodic)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="update_schedule",
        request=ScheduleUpdateRequest,
        responses={200: ScheduleResponse},
        summary="Pause or resume a schedule (enabled), change its cron or time zone",
    )
    def patch(self, request: Request, schedule_id: int) -> Response:
        periodic = self._visible(request, schedule_id)
        change = validated(ScheduleUpdateRequest, request.data).validated_data
        periodic = schedules.update(periodic, schedules.ScheduleChange(**change))
        return Response(ScheduleResponse(self._describe(periodic)).data)

    @staticmethod
    def _visible(request: Request, schedule_id: int) -> PeriodicTask:
        found = visible_schedules(caller(request)).select_related("crontab", "interval").filter(id=schedule_id)
        periodic = found.first()
        if periodic is None:
            raise NotFound(f"no schedule with id {schedule_id}")
        return periodic

    @staticmethod
    def _describe(periodic: PeriodicTask) -> dict[str, object]:
        return schedules.describe(periodic, schedules.operation_ids([periodic.id]).get(periodic.id))
