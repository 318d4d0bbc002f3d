from django.contrib import admin

from annotation.models import Revision


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    """Read-only: revisions are append-only and change only through the services."""

    list_display = ("id", "task", "number", "author", "status", "source", "created_at")
    list_filter = ("status", "source", "task__project")
    search_fields = ("task__id", "author__username", "map_sha256")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
