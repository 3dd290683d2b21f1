from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "sfpserver.submissions"
    label = "submissions"
    verbose_name = "Task submissions"
