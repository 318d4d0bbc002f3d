"""The operators' admin site.

It follows the same rules as the services: a frozen taxonomy version is the reference of the
work saved against it and is never edited (editing makes a new version), and a task that
holds work keeps its image, taxonomy, kind and person.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from core.exceptions import ApplicationError
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
from projects.services import TASK_WORK_FIELDS, task_update, task_update_check


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


# --- taxonomy: frozen versions are read-only -------------------------------------------------------


def _frozen(taxonomy: TaxonomyVersion | None) -> bool:
    return taxonomy is not None and taxonomy.is_frozen


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    fields = ("category_id", "name", "color", "isthing", "definition", "min_area", "hotkey")

    # ``obj`` is the taxonomy version being edited.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _frozen(obj) and super().has_delete_permission(request, obj)


class FrozenTaxonomyGuard(admin.ModelAdmin):
    """Change and delete only while the object's taxonomy version is not frozen.

    The bulk delete action checks permission without an object, so its confirmation page
    (``get_deleted_objects``) and ``delete_queryset`` refuse when any selected object belongs
    to a frozen version.
    """

    def taxonomy_of(self, obj: Any) -> TaxonomyVersion | None:
        taxonomy: TaxonomyVersion | None = obj.taxonomy
        return taxonomy

    def frozen_in(self, queryset: QuerySet[Any]) -> bool:
        return queryset.filter(taxonomy__frozen_at__isnull=False).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or not _frozen(self.taxonomy_of(obj))) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or not _frozen(self.taxonomy_of(obj))) and super().has_delete_permission(
            request, obj
        )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The confirmation page of the bulk action names what may not be deleted.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        ids = [obj.pk for obj in objs]
        if self.frozen_in(self.model._default_manager.filter(pk__in=ids)):
            perms_needed = {*perms_needed, f"{self.model._meta.verbose_name} of a frozen taxonomy version"}
        return deleted, counts, perms_needed, protected

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        if self.frozen_in(queryset):
            raise PermissionDenied(
                "Frozen taxonomy versions cannot change; edit the taxonomy to make a new one."
            )
        super().delete_queryset(request, queryset)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # New rules and edge cases go into versions that are still being written.
        if db_field.name == "taxonomy":
            kwargs["queryset"] = TaxonomyVersion.objects.filter(frozen_at__isnull=True).select_related(
                "project"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TaxonomyContentForm(forms.ModelForm):
    """Categories named by a rule or an edge case belong to its own taxonomy version."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        taxonomy = data.get("taxonomy")
        categories = data.get("categories")
        if taxonomy is not None and categories is not None:
            foreign = [c for c in categories if c.taxonomy_id != taxonomy.id]
            if foreign:
                raise forms.ValidationError(
                    f"Categories {', '.join(str(c) for c in foreign)} are not in {taxonomy}."
                )
        return data


@admin.register(TaxonomyVersion)
class TaxonomyVersionAdmin(FrozenTaxonomyGuard):
    list_display = ("project", "number", "frozen_at", "created_at")
    list_filter = ("project",)
    inlines = (CategoryInline,)

    def taxonomy_of(self, obj: Any) -> TaxonomyVersion | None:
        return obj if isinstance(obj, TaxonomyVersion) else None

    def frozen_in(self, queryset: QuerySet[Any]) -> bool:
        return queryset.filter(frozen_at__isnull=False).exists()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Freezing is the services' job (the first saved revision); nobody sets or clears it
        # here. A frozen version's page is read-only as a whole (no change permission).
        return ("frozen_at", "created_by")


@admin.register(ConflictRule)
class ConflictRuleAdmin(FrozenTaxonomyGuard):
    form = TaxonomyContentForm
    list_display = ("title", "taxonomy")
    list_filter = ("taxonomy__project",)
    filter_horizontal = ("categories", "examples")


@admin.register(EdgeCase)
class EdgeCaseAdmin(FrozenTaxonomyGuard):
    form = TaxonomyContentForm
    list_display = ("title", "taxonomy")
    list_filter = ("taxonomy__project",)
    filter_horizontal = ("categories", "examples")


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


# --- tasks ---------------------------------------------------------------------------------------


class TaskAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is not None:
            changes = {name: data[name] for name in self.changed_data if name in data}
            try:
                task_update_check(task=Task.objects.get(id=self.instance.pk), changes=changes)
            except ApplicationError as error:
                raise forms.ValidationError(error.message) from None
        return data


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    form = TaskAdminForm
    list_display = ("id", "project", "image", "kind", "status", "assignee", "review_stage")
    list_filter = ("project", "kind", "status", "review_stage")
    search_fields = ("image__file_name", "assignee__username")
    raw_id_fields = ("image", "assignee", "reviewer")
    # Status, review stage and reviewer change through the workflow services, which enforce
    # the allowed transitions and the review queues.
    always_readonly = ("status", "review_stage", "reviewer", "assigned_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.revisions.exists():
            return (*self.always_readonly, *TASK_WORK_FIELDS)
        return self.always_readonly

    def save_model(self, request: HttpRequest, obj: Task, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if not changes:
            return
        try:
            task_update(task=obj, changes=changes)
        except ApplicationError as error:  # work was saved between the form and the save
            messages.error(request, error.message)
            obj.refresh_from_db()
