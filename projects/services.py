"""Writes for projects, people, taxonomy versions, images and tasks."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from core.exceptions import Conflict, NotFound, ValidationFailed
from core.roles import Role
from core.storage import blob_store
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

# --- taxonomy input --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryIn:
    id: int
    name: str
    color: str
    isthing: bool
    definition: str = ""
    min_area: int = 0
    hotkey: str = ""
    export_ids: dict[str, Any] = field(default_factory=dict)
    examples: tuple[int, ...] = ()


@dataclass(frozen=True)
class ConflictRuleIn:
    title: str
    rule: str
    category_ids: tuple[int, ...]
    examples: tuple[int, ...] = ()


@dataclass(frozen=True)
class EdgeCaseIn:
    title: str
    description: str
    category_ids: tuple[int, ...] = ()
    examples: tuple[int, ...] = ()


@dataclass(frozen=True)
class TaxonomyIn:
    categories: tuple[CategoryIn, ...]
    conflict_rules: tuple[ConflictRuleIn, ...] = ()
    edge_cases: tuple[EdgeCaseIn, ...] = ()


def _colour(value: Any, where: str) -> str:
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            int(value[1:], 16)
        except ValueError:
            pass
        else:
            return value.lower()
    if (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(isinstance(c, int) and 0 <= c <= 255 for c in value)
    ):
        return "#{:02x}{:02x}{:02x}".format(*value)
    raise ValidationFailed(f"{where}: colour must be [r, g, b] or '#rrggbb', got {value!r}.")


def _int_list(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationFailed(f"{where} must be a list of category ids.")
    return tuple(value)


def taxonomy_parse(data: Any) -> TaxonomyIn:
    """Parse a taxonomy document: a COCO-panoptic ``categories`` list, or an object with
    ``categories`` and optional ``conflict_rules`` and ``edge_cases`` lists."""
    if isinstance(data, dict):
        raw_categories = data.get("categories")
        raw_rules = data.get("conflict_rules", [])
        raw_cases = data.get("edge_cases", [])
    else:
        raw_categories, raw_rules, raw_cases = data, [], []
    if not isinstance(raw_categories, list) or not raw_categories:
        raise ValidationFailed("The taxonomy needs a non-empty list of categories.")
    categories = []
    for index, raw in enumerate(raw_categories):
        where = f"category #{index + 1}"
        if not isinstance(raw, dict):
            raise ValidationFailed(f"{where} must be an object.")
        missing = [key for key in ("id", "name", "isthing") if key not in raw]
        if missing:
            raise ValidationFailed(f"{where} is missing {', '.join(missing)}.")
        cat_id, name = raw["id"], raw["name"]
        if not isinstance(cat_id, int) or isinstance(cat_id, bool) or not 1 <= cat_id <= 65535:
            raise ValidationFailed(f"{where}: id must be an integer from 1 to 65535, got {cat_id!r}.")
        if not isinstance(name, str) or not name.strip():
            raise ValidationFailed(f"{where}: name must be a non-empty string.")
        isthing = raw["isthing"]
        if isthing not in (0, 1, True, False):
            raise ValidationFailed(f"{where} ({name}): isthing must be 0/1 or true/false.")
        min_area = raw.get("min_area", 0)
        if not isinstance(min_area, int) or min_area < 0:
            raise ValidationFailed(f"{where} ({name}): min_area must be a non-negative integer.")
        hotkey = raw.get("hotkey", "") or ""
        if not isinstance(hotkey, str) or len(hotkey) > 1:
            raise ValidationFailed(f"{where} ({name}): hotkey must be a single character.")
        export_ids = raw.get("export_ids", {}) or {}
        if not isinstance(export_ids, dict):
            raise ValidationFailed(f"{where} ({name}): export_ids must be an object.")
        categories.append(
            CategoryIn(
                id=cat_id,
                name=name.strip(),
                color=_colour(raw.get("color", "#808080"), f"{where} ({name})"),
                isthing=bool(isthing),
                definition=str(raw.get("definition", "") or ""),
                min_area=min_area,
                hotkey=hotkey,
                export_ids=export_ids,
                examples=_int_list(raw.get("examples", []), f"{where} ({name}) examples"),
            )
        )
    ids = [c.id for c in categories]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationFailed(f"Category ids must be unique; repeated: {duplicates}.")
    names = [c.name for c in categories]
    repeated_names = sorted({n for n in names if names.count(n) > 1})
    if repeated_names:
        raise ValidationFailed(f"Category names must be unique; repeated: {repeated_names}.")
    hotkeys = [c.hotkey for c in categories if c.hotkey]
    repeated_keys = sorted({k for k in hotkeys if hotkeys.count(k) > 1})
    if repeated_keys:
        raise ValidationFailed(f"Category hotkeys must be unique; repeated: {repeated_keys}.")
    known = set(ids)
    rules = []
    for index, raw in enumerate(raw_rules or []):
        where = f"conflict rule #{index + 1}"
        if not isinstance(raw, dict) or not raw.get("title") or not raw.get("rule"):
            raise ValidationFailed(f"{where} needs a title and a rule.")
        category_ids = _int_list(raw.get("category_ids", []), f"{where} category_ids")
        if len(category_ids) < 2:
            raise ValidationFailed(
                f"{where} ({raw['title']}) must name at least two categories it arbitrates."
            )
        unknown = sorted(set(category_ids) - known)
        if unknown:
            raise ValidationFailed(f"{where} ({raw['title']}) names unknown categories {unknown}.")
        rules.append(
            ConflictRuleIn(
                title=str(raw["title"]),
                rule=str(raw["rule"]),
                category_ids=category_ids,
                examples=_int_list(raw.get("examples", []), f"{where} examples"),
            )
        )
    cases = []
    for index, raw in enumerate(raw_cases or []):
        where = f"edge case #{index + 1}"
        if not isinstance(raw, dict) or not raw.get("title") or not raw.get("description"):
            raise ValidationFailed(f"{where} needs a title and a description.")
        category_ids = _int_list(raw.get("category_ids", []), f"{where} category_ids")
        unknown = sorted(set(category_ids) - known)
        if unknown:
            raise ValidationFailed(f"{where} ({raw['title']}) names unknown categories {unknown}.")
        cases.append(
            EdgeCaseIn(
                title=str(raw["title"]),
                description=str(raw["description"]),
                category_ids=category_ids,
                examples=_int_list(raw.get("examples", []), f"{where} examples"),
            )
        )
    return TaxonomyIn(categories=tuple(categories), conflict_rules=tuple(rules), edge_cases=tuple(cases))


def _taxonomy_fill(*, taxonomy: TaxonomyVersion, spec: TaxonomyIn) -> None:
    project = taxonomy.project
    items: list[CategoryIn | ConflictRuleIn | EdgeCaseIn] = [
        *spec.categories,
        *spec.conflict_rules,
        *spec.edge_cases,
    ]
    wanted_examples = {i for item in items for i in item.examples}
    examples = {e.id: e for e in ExampleImage.objects.filter(project=project, id__in=wanted_examples)}
    unknown = sorted(wanted_examples - set(examples))
    if unknown:
        raise ValidationFailed(f"Example images {unknown} do not exist in project {project.slug}.")
    by_id = {}
    for c in spec.categories:
        category = Category.objects.create(
            taxonomy=taxonomy,
            category_id=c.id,
            name=c.name,
            color=c.color,
            isthing=c.isthing,
            definition=c.definition,
            min_area=c.min_area,
            hotkey=c.hotkey,
            export_ids=c.export_ids,
        )
        category.examples.set([examples[i] for i in c.examples])
        by_id[c.id] = category
    for rule_in in spec.conflict_rules:
        rule = ConflictRule.objects.create(taxonomy=taxonomy, title=rule_in.title, rule=rule_in.rule)
        rule.categories.set([by_id[i] for i in rule_in.category_ids])
        rule.examples.set([examples[i] for i in rule_in.examples])
    for case_in in spec.edge_cases:
        case = EdgeCase.objects.create(
            taxonomy=taxonomy, title=case_in.title, description=case_in.description
        )
        case.categories.set([by_id[i] for i in case_in.category_ids])
        case.examples.set([examples[i] for i in case_in.examples])


# --- projects and people ---------------------------------------------------------------------------


@transaction.atomic
def project_create(
    *,
    slug: str,
    name: str,
    mode: str,
    taxonomy: TaxonomyIn,
    created_by: User | None = None,
    description: str = "",
) -> Project:
    if mode not in Project.Mode.values:
        raise ValidationFailed(f"Mode must be one of {', '.join(Project.Mode.values)}, got {mode!r}.")
    if not slug or slugify(slug) != slug:
        raise ValidationFailed(f"Slug {slug!r} must be lowercase letters, digits and hyphens.")
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug '{slug}' already exists.")
    if mode == Project.Mode.INSTANCE and not any(c.isthing for c in taxonomy.categories):
        raise ValidationFailed("An instance project needs at least one thing category (isthing = 1).")
    project = Project.objects.create(slug=slug, name=name or slug, mode=mode, description=description)
    version = TaxonomyVersion.objects.create(project=project, number=1, created_by=created_by, note="initial")
    _taxonomy_fill(taxonomy=version, spec=taxonomy)
    if created_by is not None:
        Membership.objects.create(user=created_by, project=project, role=Role.MANAGER)
    return project


def project_update(*, project: Project, changes: dict[str, Any]) -> Project:
    """Update editable project fields (name, description, phase, QA policy)."""
    for key, value in changes.items():
        setattr(project, key, value)
    project.full_clean(exclude=["slug"])
    project.save(update_fields=[*changes.keys(), "updated_at"])
    return project


def membership_add(*, project: Project, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(f"Role must be one of {', '.join(Role.values)}, got {role!r}.")
    membership, _ = Membership.objects.get_or_create(user=user, project=project, role=role)
    return membership


def user_get_or_create(*, username: str, password: str | None = None, create: bool = False) -> User:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None:
        return user
    if not create:
        raise NotFound(f"No user '{username}'.")
    if not password:
        raise ValidationFailed("Creating a user needs a password.")
    return user_model.objects.create_user(username=username, password=password)


# --- taxonomy versions -----------------------------------------------------------------------------


@transaction.atomic
def taxonomy_replace(*, project: Project, spec: TaxonomyIn, by: User | None = None) -> TaxonomyVersion:
    """Replace the project's taxonomy.

    A frozen version (annotation against it has started) is never edited: a new version is
    made, and tasks on which no work has started move to it. An unfrozen one is edited in place.
    """
    current = TaxonomyVersion.objects.select_for_update().filter(project=project).order_by("-number").first()
    if current is not None and not current.is_frozen:
        current.categories.all().delete()
        current.conflict_rules.all().delete()
        current.edge_cases.all().delete()
        _taxonomy_fill(taxonomy=current, spec=spec)
        return current
    number = (current.number if current else 0) + 1
    version = TaxonomyVersion.objects.create(project=project, number=number, created_by=by)
    _taxonomy_fill(taxonomy=version, spec=spec)
    project.tasks.filter(status=Task.Status.TODO).annotate(n=Count("revisions")).filter(n=0).update(
        taxonomy=version
    )
    return version


def taxonomy_freeze(*, taxonomy: TaxonomyVersion) -> None:
    """Mark a version frozen; call when the first revision against it is saved."""
    if taxonomy.frozen_at is None:
        TaxonomyVersion.objects.filter(id=taxonomy.id, frozen_at__isnull=True).update(
            frozen_at=timezone.now()
        )
        taxonomy.refresh_from_db(fields=["frozen_at"])


# --- images --------------------------------------------------------------------------------------

ACCEPTED_IMAGE_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "TIFF": ("tif", "image/tiff"),
}


@dataclass(frozen=True)
class CheckedImage:
    file_name: str
    data: bytes
    width: int
    height: int
    extension: str
    content_type: str
    sha256: str


def image_check(*, file_name: str, data: bytes) -> CheckedImage:
    """Decode an upload completely and refuse anything that is not a whole PNG/JPEG/TIFF.

    Pillow's bomb check is set from settings in CoreConfig.ready; its warning (above the limit)
    is turned into an error here, so a bomb is refused rather than half-decoded.
    """
    if not file_name or "/" in file_name or "\\" in file_name or file_name in {".", ".."}:
        raise ValidationFailed(f"{file_name!r} is not a valid file name.")
    if not data:
        raise ValidationFailed(f"{file_name}: the file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                image_format = probe.format or ""
                width, height = probe.size
                if image_format not in ACCEPTED_IMAGE_FORMATS:
                    raise ValidationFailed(
                        f"{file_name}: {image_format or 'unknown'} images are not accepted (PNG, JPEG or TIFF)."
                    )
                probe.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ValidationFailed(
            f"{file_name}: the image is too large to decode safely (limit {PILImage.MAX_IMAGE_PIXELS} pixels)."
        ) from None
    except UnidentifiedImageError:
        raise ValidationFailed(f"{file_name}: not an image (PNG, JPEG or TIFF expected).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValidationFailed(f"{file_name}: the image is truncated or corrupt ({error}).") from None
    extension, content_type = ACCEPTED_IMAGE_FORMATS[image_format]
    return CheckedImage(
        file_name=file_name,
        data=data,
        width=width,
        height=height,
        extension=extension,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def example_image_add(*, project: Project, file_name: str, data: bytes, caption: str = "") -> ExampleImage:
    checked = image_check(file_name=file_name, data=data)
    blob = blob_store(data=checked.data, prefix="examples", extension=checked.extension)
    return ExampleImage.objects.create(
        project=project,
        storage_key=blob.key,
        sha256=checked.sha256,
        content_type=checked.content_type,
        caption=caption or file_name,
    )


def batch_get_or_create(*, project: Project, name: str | None) -> Batch:
    if not name:
        name = timezone.now().strftime("batch-%Y%m%d")
    batch, _ = Batch.objects.get_or_create(project=project, name=name)
    return batch


@transaction.atomic
def images_add(
    *,
    project: Project,
    files: Sequence[tuple[str, bytes]],
    batch_name: str | None = None,
    uploaded_by: User | None = None,
) -> list[Image]:
    """Add images and one annotation task per image; all or nothing.

    Every file is decoded before anything is written, so one bad file refuses the whole upload.
    """
    checked = [image_check(file_name=name, data=data) for name, data in files]
    names = [c.file_name for c in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationFailed(f"File names repeat within the upload: {repeated}.")
    existing = sorted(project.images.filter(file_name__in=names).values_list("file_name", flat=True))
    if existing:
        raise Conflict(f"The project already has images named {existing}.")
    batch = batch_get_or_create(project=project, name=batch_name)
    taxonomy = TaxonomyVersion.objects.filter(project=project).order_by("-number").first()
    if taxonomy is None:
        raise ValidationFailed(f"Project {project.slug} has no taxonomy.")
    images = []
    for item in checked:
        blob = blob_store(data=item.data, prefix="images", extension=item.extension)
        try:
            with transaction.atomic():
                image = Image.objects.create(
                    project=project,
                    batch=batch,
                    file_name=item.file_name,
                    width=item.width,
                    height=item.height,
                    sha256=item.sha256,
                    storage_key=blob.key,
                    content_type=item.content_type,
                    size_bytes=blob.size,
                    uploaded_by=uploaded_by,
                )
        except IntegrityError:
            raise Conflict(f"The project already has an image named {item.file_name}.") from None
        images.append(image)
    Task.objects.bulk_create(
        [Task(project=project, image=image, taxonomy=taxonomy, kind=Task.Kind.ANNOTATE) for image in images]
    )
    return images


# --- tasks ---------------------------------------------------------------------------------------


def task_transition(*, task: Task, to: str) -> Task:
    """Move a task along one of its allowed transitions; call with the task row locked."""
    if task.status == to:
        return task
    if not task.can_move_to(to):
        raise Conflict(f"Task {task.id} cannot go from {task.status} to {to}.")
    task.status = to
    task.save(update_fields=["status", "updated_at"])
    return task


def task_next_for_user(*, project: Project, user: User, kinds: Iterable[str] | None = None) -> Task | None:
    """The annotator's next task: their open one if any, else a new one assigned to them.

    Never an image the annotator already has a task on. Uses SKIP LOCKED so concurrent
    annotators pulling at the same moment get different tasks.
    """
    kinds = list(kinds or [Task.Kind.ANNOTATE])
    with transaction.atomic():
        # Rework first: a rejected task is waiting on this annotator and blocks its batch.
        open_task = (
            Task.objects.filter(
                project=project, assignee_id=user.pk, kind__in=kinds, status__in=Task.EDITABLE_STATUSES
            )
            .annotate(
                rework=Case(
                    When(status=Task.Status.REJECTED, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("rework", "assigned_at", "id")
            .first()
        )
        if open_task is not None:
            return open_task
        own_images = Task.objects.filter(project=project, assignee_id=user.pk).values("image_id")
        candidate = (
            Task.objects.select_for_update(skip_locked=True)
            .filter(project=project, assignee__isnull=True, status=Task.Status.TODO, kind__in=kinds)
            .exclude(image_id__in=own_images)
            .order_by("id")
            .first()
        )
        if candidate is None:
            return None
        candidate.assignee_id = user.pk
        candidate.assigned_at = timezone.now()
        candidate.save(update_fields=["assignee", "assigned_at", "updated_at"])
        return candidate


# Fields that tie a task to the work saved on it: once it holds a revision they never change,
# or the saved maps would describe another image, be checked against another taxonomy, or be
# shown to another person.
TASK_WORK_FIELDS = ("project", "image", "taxonomy", "kind", "assignee")


def _role_for_task(task: Task) -> str:
    return Role.QA_LEAD if task.kind == Task.Kind.GOLD else Role.ANNOTATOR


def task_reassign_check(*, task: Task, assignee: User | None) -> None:
    """Raise unless ``task`` may be given to ``assignee`` (None: back to the pool).

    A task that holds work someone else saved is never handed on: the new assignee would see
    that work, which breaks blind agreement (and the work belongs to its author). Give the
    image to someone else as a new task instead (an overlap task); the saved work stays put.
    """
    others = task.revisions.all() if assignee is None else task.revisions.exclude(author_id=assignee.pk)
    if others.exists():
        authors = sorted(set(others.values_list("author__username", flat=True)))
        raise Conflict(
            f"Task {task.id} holds work saved by {', '.join(authors)}; it stays with its author. "
            "Give the image to someone else as a new task instead.",
            extra={"code": "task_holds_work"},
        )
    if task.status not in (Task.Status.TODO, Task.Status.IN_PROGRESS):
        raise Conflict(f"Task {task.id} is {task.status}; only open tasks are reassigned.")
    if assignee is None:
        return
    role = _role_for_task(task)
    if not Membership.objects.filter(project_id=task.project_id, user_id=assignee.pk, role=role).exists():
        raise ValidationFailed(
            f"{assignee.get_username()} is not {role} in this project; a {task.kind} task needs one."
        )
    if (
        task.kind != Task.Kind.GOLD
        and Task.objects.filter(
            image_id=task.image_id,
            assignee_id=assignee.pk,
            kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION],
        )
        .exclude(id=task.id)
        .exists()
    ):
        raise Conflict(f"{assignee.get_username()} already has a task on this image.")


@transaction.atomic
def task_reassign(*, task: Task, assignee: User | None) -> Task:
    """Give an open task without other people's work to ``assignee``, or back to the pool."""
    locked = Task.objects.select_for_update().get(id=task.id)
    task_reassign_check(task=locked, assignee=assignee)
    if assignee is not None and locked.assignee_id == assignee.pk:
        return locked
    locked.assignee = assignee
    locked.assigned_at = timezone.now() if assignee is not None else None
    locked.status = Task.Status.TODO
    locked.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
    return locked


def task_update_check(*, task: Task, changes: dict[str, Any]) -> None:
    """Raise unless an operator may make ``changes`` (field name → new value) to ``task``."""
    bound = sorted(set(changes) & (set(TASK_WORK_FIELDS) - {"assignee"}))
    if bound and task.revisions.exists():
        raise Conflict(
            f"Task {task.id} holds saved work; its {', '.join(bound)} cannot change.",
            extra={"code": "task_holds_work"},
        )
    project_id = changes["project"].id if "project" in changes else task.project_id
    image = changes.get("image", task.image)
    taxonomy = changes.get("taxonomy", task.taxonomy)
    if image.project_id != project_id or taxonomy.project_id != project_id:
        raise ValidationFailed("A task's image and taxonomy version belong to the task's project.")
    if "assignee" in changes:
        task_reassign_check(task=task, assignee=changes["assignee"])


@transaction.atomic
def task_update(*, task: Task, changes: dict[str, Any]) -> Task:
    """An operator's edit of a task (the admin site): work-bound fields only while it holds no
    revision, the assignee only through the reassignment rules. Status never changes here."""
    locked = Task.objects.select_for_update().select_related("image", "taxonomy").get(id=task.id)
    assignee_changes = {"assignee": changes["assignee"]} if "assignee" in changes else {}
    other = {name: value for name, value in changes.items() if name != "assignee"}
    task_update_check(task=locked, changes=changes)
    if other:
        for name, value in other.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["assignee"])
        locked.save(update_fields=[*other, "updated_at"])
    if assignee_changes:
        locked = task_reassign(task=locked, assignee=assignee_changes["assignee"])
    return locked
