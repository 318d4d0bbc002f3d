from typing import Any

from django.contrib import admin

from deliveries.models import ImportRun, Release, ReleaseDecision


class ReadOnlyAdmin(admin.ModelAdmin):
    """Read-only: runs, releases and decisions change only through the services."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "format", "mode", "status", "created_by", "created_at")
    list_filter = ("status", "format", "mode", "project")


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ("project", "number", "status", "archive_sha256", "created_by", "created_at")
    list_filter = ("status", "project")


@admin.register(ReleaseDecision)
class ReleaseDecisionAdmin(ReadOnlyAdmin):
    list_display = ("release", "decision", "client", "created_at")
    list_filter = ("decision",)
