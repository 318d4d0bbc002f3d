from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "qa"
    default_auto_field = "django.db.models.BigAutoField"
