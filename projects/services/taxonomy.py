"""Taxonomy documents and versions: parse, fill, replace, freeze."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from core.exceptions import ValidationFailed
from projects.models import (
    Category,
    ConflictRule,
    EdgeCase,
    ExampleImage,
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
