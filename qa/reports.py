"""QA figures for a set of revisions, recomputed from the stored counts.

Nothing here is typed in or cached: every figure is a ratio of counts summed over the
QualityReport rows it covers (dataset figures are ratios of sums, never means of ratios).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Q, QuerySet

from annotation.models import Revision
from core.roles import Role
from projects.models import Batch, Image, Membership, Project, Task
from qa.metrics import ENGINE_VERSION, CategoryInfo, PairCounts, sum_counts, with_categories
from qa.metrics.report import dataset_figures
from qa.models import QualityReport, ReviewItem, SamplingDecision
from qa.selectors import class_thresholds, threshold_for


def counts_total(reports: Iterable[QualityReport]) -> PairCounts | None:
    """Sum the counts of ``reports`` (current engine only), by ascending image id as
    pycocotools ranks ties; None when there is nothing to sum."""
    rows = sorted(
        (r for r in reports if r.engine_version == ENGINE_VERSION),
        key=lambda r: (r.revision.task.image_id, r.revision_id, r.reference_id),
    )
    if not rows:
        return None
    counts = [PairCounts.from_json(r.counts) for r in rows]
    categories: dict[int, CategoryInfo] = {}
    for item in counts:
        for category in item.categories:
            categories.setdefault(category.id, category)
    layout = [categories[i] for i in sorted(categories)]
    return sum_counts(with_categories(item, layout) for item in counts)


def figures(reports: Iterable[QualityReport]) -> dict[str, Any] | None:
    """Dataset figures (class IoU, boundary IoU, PQ, mask AP, drift, …) of the summed counts."""
    total = counts_total(reports)
    if total is None:
        return None
    return {"images": total.images, **dataset_figures(total)}


def current_reports(*, project: Project, submissions: Sequence[Revision]) -> list[QualityReport]:
    """Reports of ``submissions`` against what is current now: the image's latest gold, and
    other annotators' latest work (``submissions`` holds the latest revision of each task).
    Reports against superseded gold or superseded partner work are history, not figures."""
    latest_ids = {r.id for r in submissions}
    gold_now = dict(  # later gold replaces earlier gold of the same image
        Revision.objects.filter(
            task__project=project, task__kind=Task.Kind.GOLD, status=Revision.Status.ACCEPTED
        )
        .order_by("id")
        .values_list("task__image_id", "id")
    )
    rows = project_reports(project=project).filter(
        Q(revision_id__in=latest_ids) | Q(reference_id__in=latest_ids, kind=QualityReport.Kind.AGREEMENT)
    )
    current = []
    pairs: set[frozenset[int]] = set()
    # Canonical rows (the later revision measured against the earlier) first, so a pair stored
    # both ways by an older build counts once, in the canonical direction.
    for row in sorted(rows, key=lambda r: (r.revision_id < r.reference_id, r.id)):
        if row.kind == QualityReport.Kind.GOLD:
            if row.revision_id in latest_ids and gold_now.get(row.revision.task.image_id) == row.reference_id:
                current.append(row)
        elif row.revision_id in latest_ids and row.reference_id in latest_ids:
            pair = frozenset((row.revision_id, row.reference_id))
            if pair not in pairs:
                pairs.add(pair)
                current.append(row)
    return sorted(current, key=lambda r: r.id)


def project_reports(*, project: Project) -> QuerySet[QualityReport]:
    return QualityReport.objects.filter(
        revision__task__project=project, engine_version=ENGINE_VERSION, boundary_ratio=project.boundary_ratio
    ).select_related("revision__task", "revision__author", "reference__author")


def quality_summary(*, project: Project, revision_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """QA figures of a project, or of the tasks of the given revisions (a release): against
    gold, between annotators, and the sampled coverage per stratum.

    For each task the figures use its latest measured submission, so a task reworked twice
    counts once, with the work that was finally judged.
    """
    submissions = latest_submissions(project=project)
    if revision_ids is not None:
        tasks = set(Revision.objects.filter(id__in=revision_ids).values_list("task_id", flat=True))
        submissions = [r for r in submissions if r.task_id in tasks]
    rows = current_reports(project=project, submissions=submissions)
    return {
        "engine_version": ENGINE_VERSION,
        "boundary_ratio": project.boundary_ratio,
        "gold": figures(r for r in rows if r.kind == QualityReport.Kind.GOLD),
        "agreement": figures(r for r in rows if r.kind == QualityReport.Kind.AGREEMENT),
        "sampling": _sampling(submissions),
    }


# --- batch and calibration reports ------------------------------------------------------------


def _names(project: Project) -> dict[int, str]:
    names: dict[int, str] = {}
    for version in project.taxonomy_versions.order_by("number").prefetch_related("categories"):
        for category in version.categories.all():
            names[category.category_id] = category.name
    return names


def latest_submissions(
    *, project: Project, batch: Batch | None = None, calibration: bool = False
) -> list[Revision]:
    """Each annotation task's latest submitted (or decided) annotator revision."""
    kinds = [Task.Kind.CALIBRATION] if calibration else [Task.Kind.ANNOTATE]
    revisions = (
        Revision.objects.filter(task__project=project, task__kind__in=kinds)
        .exclude(status=Revision.Status.DRAFT)
        .exclude(source=Revision.Source.REVIEW_FIX)
        .select_related("author", "task")
        .order_by("task_id", "-number")
    )
    if batch is not None:
        revisions = revisions.filter(task__image__batch=batch)
    latest: dict[int, Revision] = {}
    for revision in revisions:
        latest.setdefault(revision.task_id, revision)
    return list(latest.values())


def _per_annotator(rows: list[QualityReport]) -> dict[str, dict[str, Any]]:
    by_author: dict[str, list[QualityReport]] = {}
    for row in rows:
        by_author.setdefault(row.revision.author.get_username(), []).append(row)
    result = {}
    for author, reports in sorted(by_author.items()):
        found = figures(reports)
        if found is not None:
            result[author] = {
                "images": found["images"],
                "class_iou": found["class_iou"],
                "miou": found["miou"],
                "boundary_iou": found["boundary_iou"],
                "boundary_drift": found["boundary_drift"],
            }
    return result


def _agreement_pairs(rows: list[QualityReport]) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, str], list[QualityReport]] = {}
    for row in rows:
        key = tuple(sorted((row.revision.author.get_username(), row.reference.author.get_username())))
        pairs.setdefault((key[0], key[1]), []).append(row)
    result = []
    for (first, second), reports in sorted(pairs.items()):
        found = figures(reports)
        if found is not None:
            result.append(
                {
                    "annotators": [first, second],
                    "images": found["images"],
                    "miou": found["miou"],
                    "class_iou": found["class_iou"],
                }
            )
    return result


def _sampling(revisions: list[Revision]) -> dict[str, Any]:
    """Sampled coverage per stratum: how many submissions went to peer review, and why."""
    decisions = SamplingDecision.objects.filter(revision__in=revisions)
    strata: dict[str, dict[str, Any]] = {}
    for stratum in SamplingDecision.Stratum.values:
        strata[stratum] = {"submissions": 0, "sampled": 0, "forced": 0, "reviewed": 0, "rate": None}
    reviewed = set(
        ReviewItem.objects.filter(revision__in=revisions, stage=ReviewItem.Stage.PEER)
        .exclude(status=ReviewItem.Status.PENDING)
        .values_list("revision_id", flat=True)
    )
    for decision in decisions:
        row = strata[decision.stratum]
        row["submissions"] += 1
        row["sampled"] += int(decision.sampled)
        row["forced"] += int(bool(decision.forced_reasons) and not decision.sampled)
        row["reviewed"] += int(decision.revision_id in reviewed)
        row["rate"] = decision.rate
    for row in strata.values():
        to_review = row["sampled"] + row["forced"]
        row["coverage"] = to_review / row["submissions"] if row["submissions"] else None
    return strata


OPEN_WORK_LABELS = {
    "unfinished": "tasks not submitted yet",
    "measuring": "submissions still being measured",
    "peer_review": "items waiting in peer review",
    "senior_qa": "items waiting in senior QA",
    "rework": "rejected tasks waiting for rework",
    "gold_missing": "gold images without their gold yet",
}


def open_work_text(remaining: dict[str, int]) -> str:
    return ", ".join(f"{count} {OPEN_WORK_LABELS[key]}" for key, count in remaining.items() if count)


def open_work(*, batch: Batch) -> dict[str, int]:
    """What still has to happen before a batch's work is final, by kind."""
    tasks = Task.objects.filter(image__batch=batch)
    labelling = tasks.filter(kind=Task.Kind.ANNOTATE)
    pending = ReviewItem.objects.filter(task__image__batch=batch, status=ReviewItem.Status.PENDING)
    return {
        "unfinished": labelling.filter(status__in=[Task.Status.TODO, Task.Status.IN_PROGRESS]).count(),
        "measuring": labelling.filter(status=Task.Status.SUBMITTED).count(),
        "peer_review": pending.filter(stage=ReviewItem.Stage.PEER).count(),
        "senior_qa": pending.filter(stage=ReviewItem.Stage.SENIOR).count(),
        "rework": labelling.filter(status=Task.Status.REJECTED).count(),
        "gold_missing": tasks.filter(kind=Task.Kind.GOLD).exclude(status=Task.Status.ACCEPTED).count(),
    }


def batch_report(*, project: Project, batch: Batch) -> dict[str, Any]:
    """Per-class IoU against gold and between annotators, PQ, drift per annotator, sampled
    coverage per stratum, and pass/fail against the project's floors."""
    revisions = latest_submissions(project=project, batch=batch)
    rows = current_reports(project=project, submissions=revisions)
    gold_rows = [r for r in rows if r.kind == QualityReport.Kind.GOLD]
    agreement_rows = [r for r in rows if r.kind == QualityReport.Kind.AGREEMENT]
    gold = figures(gold_rows)
    agreement = figures(agreement_rows)
    names = _names(project)
    overrides = class_thresholds(project=project)
    failures = []
    for source, found, field in (
        ("gold", gold, "batch_iou_floor"),
        ("agreement", agreement, "batch_agreement_floor"),
    ):
        if found is None:
            continue
        for category, value in found["class_iou"].items():
            floor = threshold_for(project, overrides, category_id=category, field=field)
            if value is not None and value < floor:
                failures.append(
                    {
                        "metric": f"{source}_class_iou",
                        "category_id": int(category),
                        "category": names.get(int(category), category),
                        "value": value,
                        "floor": floor,
                    }
                )
    if gold is None and agreement is None:
        failures.append(
            {
                "metric": "coverage",
                "reason": "no submission of this batch was measured against gold or a second annotator",
            }
        )
    remaining = open_work(batch=batch)
    return {
        "project": project.slug,
        "batch": batch.name,
        "status": batch.status,
        "submissions": len(revisions),
        "open_work": remaining,
        "complete": not any(remaining.values()),
        "thresholds": {
            "batch_iou_floor": project.batch_iou_floor,
            "batch_agreement_floor": project.batch_agreement_floor,
        },
        "class_thresholds": {
            category: {k: v for k, v in values.items() if k != "calibration_threshold"}
            for category, values in overrides.items()
            if set(values) - {"calibration_threshold"}
        },
        "categories": {str(k): v for k, v in sorted(names.items())},
        "gold": gold,
        "agreement": agreement,
        "agreement_pairs": _agreement_pairs(agreement_rows),
        "annotators": _per_annotator(gold_rows),
        "sampling": _sampling(revisions),
        "passed": not failures,
        "failures": failures,
    }


def calibration_report(*, project: Project) -> dict[str, Any]:
    """Per annotator × class IoU, boundary IoU and drift against gold on the calibration set,
    agreement among annotators, and the annotator-class pairs under the threshold."""
    revisions = latest_submissions(project=project, calibration=True)
    rows = current_reports(project=project, submissions=revisions)
    gold_rows = [r for r in rows if r.kind == QualityReport.Kind.GOLD]
    annotators = _per_annotator(gold_rows)
    names = _names(project)
    threshold = project.calibration_threshold
    overrides = class_thresholds(project=project)

    def limit(category: str) -> float:
        return threshold_for(project, overrides, category_id=category, field="calibration_threshold")

    flags = [
        {
            "annotator": author,
            "category_id": int(category),
            "category": names.get(int(category), category),
            "iou": value,
            "threshold": limit(category),
            "boundary_drift": data["boundary_drift"].get(category) if data["boundary_drift"] else None,
        }
        for author, data in annotators.items()
        for category, value in data["class_iou"].items()
        if value is not None and value < limit(category)
    ]
    memberships = Membership.objects.filter(project=project, role=Role.ANNOTATOR).select_related("user")
    calibration_images = Image.objects.filter(project=project, batch__is_calibration=True).count()
    submitted: dict[str, int] = {}
    for revision in revisions:
        submitted[revision.author.get_username()] = submitted.get(revision.author.get_username(), 0) + 1
    return {
        "project": project.slug,
        "threshold": threshold,
        "class_thresholds": {
            category: values["calibration_threshold"]
            for category, values in overrides.items()
            if "calibration_threshold" in values
        },
        "calibration_images": calibration_images,
        "categories": {str(k): v for k, v in sorted(names.items())},
        "annotators": annotators,
        "progress": {
            m.user.get_username(): {
                "submitted": submitted.get(m.user.get_username(), 0),
                "released": m.released_to_production,
            }
            for m in memberships
        },
        "agreement": figures(r for r in rows if r.kind == QualityReport.Kind.AGREEMENT),
        "agreement_pairs": _agreement_pairs([r for r in rows if r.kind == QualityReport.Kind.AGREEMENT]),
        "flags": flags,
    }


def agreement_over_batches(*, project: Project) -> list[dict[str, Any]]:
    """Mean class IoU between annotators and against gold, batch by batch (oldest first)."""
    series = []
    for batch in project.batches.filter(is_calibration=False).order_by("created_at", "id"):
        rows = current_reports(project=project, submissions=latest_submissions(project=project, batch=batch))
        agreement = figures(r for r in rows if r.kind == QualityReport.Kind.AGREEMENT)
        gold = figures(r for r in rows if r.kind == QualityReport.Kind.GOLD)
        series.append(
            {
                "batch": batch.name,
                "agreement_miou": agreement["miou"] if agreement else None,
                "gold_miou": gold["miou"] if gold else None,
            }
        )
    return series


CSV_HEADER = ["section", "annotator", "category_id", "category", "metric", "value"]


def batch_report_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The batch report flattened for CSV, one value per row: section, annotator (or
    "a+b" for an agreement pair), category id, category name, metric, value. Everything in
    the JSON report is here except the detection and mask AP blocks; ``None`` is undefined."""
    names = report["categories"]
    rows: list[list[Any]] = [list(CSV_HEADER)]

    def add(section: str, metric: str, value: Any, *, annotator: str = "", category: str = "") -> None:
        rows.append(
            [section, annotator, category, names.get(category, "") if category else "", metric, value]
        )

    def per_class(section: str, metric: str, values: dict[str, Any] | None, annotator: str = "") -> None:
        for category, value in (values or {}).items():
            add(section, metric, value, annotator=annotator, category=category)

    add("batch", "submissions", report["submissions"])
    add("batch", "status", report["status"])
    for name, value in report["thresholds"].items():
        add("threshold", name, value)
    for category, values in report["class_thresholds"].items():
        for name, value in values.items():
            add("threshold", name, value, category=category)
    for section in ("gold", "agreement"):
        found = report[section]
        if found is None:
            continue
        add(section, "images", found["images"])
        add(section, "miou", found["miou"])
        add(section, "mean_boundary_iou", found["mean_boundary_iou"])
        per_class(section, "class_iou", found["class_iou"])
        per_class(section, "boundary_iou", found["boundary_iou"])
        per_class(section, "boundary_drift", found["boundary_drift"])
        for group, values in found["pq"].items():
            for metric in ("pq", "sq", "rq", "n"):
                add(section, f"{metric}.{group}", values[metric])
        for category, values in found["pq_per_class"].items():
            for metric in ("pq", "sq", "rq", "tp", "fp", "fn"):
                add(section, f"class_{metric}", values[metric], category=category)
    for pair in report["agreement_pairs"]:
        who = "+".join(pair["annotators"])
        add("agreement_pair", "images", pair["images"], annotator=who)
        add("agreement_pair", "miou", pair["miou"], annotator=who)
        per_class("agreement_pair", "class_iou", pair["class_iou"], annotator=who)
    for author, data in report["annotators"].items():
        add("annotator", "images", data["images"], annotator=author)
        add("annotator", "miou", data["miou"], annotator=author)
        per_class("annotator", "class_iou", data["class_iou"], author)
        per_class("annotator", "boundary_iou", data["boundary_iou"], author)
        per_class("annotator", "boundary_drift", data["boundary_drift"], author)
    for stratum, data in report["sampling"].items():
        for metric in ("submissions", "rate", "sampled", "forced", "reviewed", "coverage"):
            rows.append(["sampling", "", "", stratum, metric, data[metric]])
    for key, count in report["open_work"].items():
        add("open_work", key, count)
    for failure in report["failures"]:
        if "category_id" in failure:
            add("failure", failure["metric"], failure["value"], category=str(failure["category_id"]))
            add("failure_floor", failure["metric"], failure["floor"], category=str(failure["category_id"]))
        else:
            add("failure", failure["metric"], failure["reason"])
    add("result", "passed", report["passed"])
    add("result", "complete", report["complete"])
    return rows
