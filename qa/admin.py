from django.contrib import admin
from django.http import HttpRequest

from qa.models import QualityReport, RevisionMeasurement


@admin.register(RevisionMeasurement)
class RevisionMeasurementAdmin(admin.ModelAdmin):
    list_display = ("revision", "status", "attempts", "engine_version", "finished_at")
    list_filter = ("status",)
    readonly_fields = ("revision", "status", "error", "attempts", "engine_version", "finished_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the measurement job records measurements


@admin.register(QualityReport)
class QualityReportAdmin(admin.ModelAdmin):
    """Read-only: every QA figure is summed from these counts, so none may be typed in.
    Deleting one and running ``manage.py remeasure`` measures the pair again."""

    list_display = ("revision", "reference", "kind", "engine_version", "created_at")
    list_filter = ("kind",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: QualityReport | None = None) -> bool:
        return False
