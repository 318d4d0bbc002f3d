from django.contrib import admin

from qa.models import QualityReport, RevisionMeasurement


@admin.register(RevisionMeasurement)
class RevisionMeasurementAdmin(admin.ModelAdmin):
    list_display = ("revision", "status", "attempts", "engine_version", "finished_at")
    list_filter = ("status",)
    readonly_fields = ("revision", "status", "error", "attempts", "engine_version", "finished_at")


@admin.register(QualityReport)
class QualityReportAdmin(admin.ModelAdmin):
    list_display = ("revision", "reference", "kind", "engine_version", "created_at")
    list_filter = ("kind",)

    def has_change_permission(self, request, obj=None):
        return False
