from django.contrib import admin

from projects.models import (
    Batch,
    Category,
    ConflictRule,
    EdgeCase,
    ExampleImage,
    Image,
    Membership,
    Project,
    Task,
    TaxonomyVersion,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "mode", "phase", "created_at")
    list_filter = ("mode", "phase")
    search_fields = ("slug", "name")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role", "released_to_production")
    list_filter = ("role", "project")
    search_fields = ("user__username", "project__slug")


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    fields = ("category_id", "name", "color", "isthing", "min_area", "hotkey")


@admin.register(TaxonomyVersion)
class TaxonomyVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "frozen_at", "created_at")
    list_filter = ("project",)
    inlines = (CategoryInline,)

    def get_readonly_fields(self, request, obj=None):
        # A frozen version is the reference for existing work; edits make a new version.
        if obj is not None and obj.is_frozen:
            return ("project", "number", "frozen_at", "created_by", "note")
        return ()

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_frozen


admin.site.register(ConflictRule)
admin.site.register(EdgeCase)
admin.site.register(ExampleImage)


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("project", "name", "status", "is_calibration", "created_at")
    list_filter = ("project", "status")


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("file_name", "project", "batch", "width", "height", "created_at")
    list_filter = ("project",)
    search_fields = ("file_name", "sha256")
    readonly_fields = ("sha256", "storage_key", "width", "height", "size_bytes", "content_type")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "image", "kind", "status", "assignee", "review_stage")
    list_filter = ("project", "kind", "status", "review_stage")
    search_fields = ("image__file_name", "assignee__username")
    raw_id_fields = ("image", "assignee", "reviewer")
    # Status changes go through the workflow services, which enforce the allowed transitions.
    readonly_fields = ("status", "review_stage")
