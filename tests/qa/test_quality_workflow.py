"""A scripted project through the whole quality process.

Calibration flags the annotator whose people are dilated by 4 px (drift shows, with its sign),
the manager releases the others; production mixes overlap and gold images in; a peer
reviewer rejects, the author reworks, senior QA accepts; the batch report's numbers equal a
recomputation from the stored maps; and the stratified sampling rates are right over many
submissions.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management import call_command

from annotation.models import Revision
from annotation.selectors import revision_index_map
from annotation.services import SegmentIn
from core.exceptions import Forbidden
from core.roles import Role
from projects.models import Batch, Image, Project, Task
from projects.services import images_add
from qa import reports
from qa.metrics import (
    CategoryInfo,
    LabelledMap,
    Segment,
    class_iou,
    measure_pair,
    panoptic_quality,
    sum_counts,
)
from qa.models import QualityReport, ReviewItem, SamplingDecision
from qa.services import (
    annotator_release,
    batch_decide,
    calibration_start,
    gold_set,
    policy_update,
    review_claim_next,
    review_decide,
    revision_route,
    revision_save,
    task_next,
)
from qa.services.review import PinIn
from tests.factories import make_project
from tests.helpers import map_png, png_bytes

H, W = 40, 60
ROAD, SKY, PERSON, CAR = 1, 3, 7, 9
CATEGORIES = [
    CategoryInfo(ROAD, False),
    CategoryInfo(SKY, False),
    CategoryInfo(PERSON, True),
    CategoryInfo(CAR, True),
]
SEGMENTS = [
    {"id": 1, "category_id": SKY},
    {"id": 2, "category_id": ROAD},
    {"id": 3, "category_id": PERSON},
    {"id": 4, "category_id": CAR},
]


def scene(seed: int, *, person_grow: int = 0) -> np.ndarray:
    """Sky over road, a person and a car placed by ``seed``; the person dilated by ``person_grow``."""
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    x = 8 + (seed * 7) % 20
    index_map[24:34, 32:52] = 4
    g = person_grow
    index_map[8 - g : 28 + g, x - g : x + 12 + g] = 3
    return index_map


def user(name: str) -> User:
    return get_user_model().objects.get(username=name)


def submit(
    task: Task, author: User, index_map: np.ndarray, hooks: Any, *, parent: int | None = None
) -> Revision:
    with hooks(execute=True):
        return revision_save(
            task=task,
            author=author,
            png=map_png(index_map),
            segments_raw=SEGMENTS,
            parent_number=parent,
            submit=True,
        )


def seed_of(task: Task) -> int:
    return int(task.image.file_name.split(".")[0].split("_")[-1])


def add_batch(project: Project, name: str, count: int, start: int) -> Batch:
    files = [(f"{name}_{start + i}.png", png_bytes(np.full((H, W, 3), 90, np.uint8))) for i in range(count)]
    images_add(project=project, files=files, batch_name=name)
    return Batch.objects.get(project=project, name=name)


@pytest.fixture
def project(db: Any) -> Project:
    members = {
        "boss": [Role.MANAGER],
        "ann1": [Role.ANNOTATOR],
        "ann2": [Role.ANNOTATOR],
        "ann3": [Role.ANNOTATOR],
        "rev": [Role.REVIEWER],
        "lead": [Role.QA_LEAD],
    }
    project = make_project(slug="city", members=members, images=0, size=(W, H))
    Project.objects.filter(id=project.id).update(sampling_seed=20261122)
    project.refresh_from_db()
    return project


def run_calibration(project: Project, hooks: Any) -> Batch:
    batch = add_batch(project, "calib", 2, start=0)
    calibration_start(project=project, batch=batch, by=user("lead"))
    for image in batch.images.all():
        seed = int(image.file_name.split("_")[-1].split(".")[0])
        with hooks(execute=True):
            gold_set(
                image=image,
                author=user("lead"),
                index_map=scene(seed),
                segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in SEGMENTS],
            )
    grow = {"ann1": 0, "ann2": 0, "ann3": 4}
    for name in ("ann1", "ann2", "ann3"):
        while (task := task_next(project=project, user=user(name))) is not None:
            assert task.kind == Task.Kind.CALIBRATION
            submit(task, user(name), scene(seed_of(task), person_grow=grow[name]), hooks)
    return batch


def test_calibration_flags_the_dilated_annotator_with_positive_drift(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    run_calibration(project, django_capture_on_commit_callbacks)

    report = reports.calibration_report(project=project)

    flagged = {(f["annotator"], f["category"]) for f in report["flags"]}
    assert flagged == {("ann3", "person")}
    flag = report["flags"][0]
    assert flag["iou"] == pytest.approx((20 * 12) / (28 * 20))
    assert flag["boundary_drift"] == pytest.approx(4.0, abs=0.4)  # inflated: positive
    assert report["annotators"]["ann1"]["class_iou"][str(PERSON)] == 1.0
    assert report["annotators"]["ann3"]["boundary_drift"][str(SKY)] < 0  # sky shrank where the person grew
    assert report["agreement"] is not None
    assert {tuple(p["annotators"]) for p in report["agreement_pairs"]} == {
        ("ann1", "ann2"),
        ("ann1", "ann3"),
        ("ann2", "ann3"),
    }
    assert report["progress"]["ann3"] == {"submitted": 2, "released": False}


def test_annotators_wait_in_calibration_until_released(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    run_calibration(project, django_capture_on_commit_callbacks)
    add_batch(project, "b1", 2, start=10)

    assert task_next(project=project, user=user("ann1")) is None
    annotator_release(project=project, user=user("ann1"), by=user("boss"))
    released = task_next(project=project, user=user("ann1"))

    assert released is not None
    assert released.kind == Task.Kind.ANNOTATE
    assert task_next(project=project, user=user("ann3")) is None
    with pytest.raises(Forbidden):
        annotator_release(project=project, user=user("ann2"), by=user("lead"))


def test_scripted_project_from_calibration_to_batch_report(
    project: Project, django_capture_on_commit_callbacks: Any, api: Any
) -> None:
    hooks = django_capture_on_commit_callbacks
    run_calibration(project, hooks)
    for name in ("ann1", "ann2"):
        annotator_release(project=project, user=user(name), by=user("boss"))
    policy_update(
        project=project,
        by=user("boss"),
        changes={
            "overlap_share": 0.5,
            "gold_share": 0.5,
            "peer_review_rate_dominant": 1.0,
            "peer_review_rate_rare": 1.0,
            "senior_qa_share": 1.0,
        },
    )
    batch = add_batch(project, "b1", 12, start=100)

    # Production: annotators pull until the queue is empty; the QA lead labels the gold images.
    grow = {"ann1": 0, "ann2": 1}
    pulled: dict[str, list[Task]] = {"ann1": [], "ann2": []}
    progress = True
    while progress:
        progress = False
        for name in ("ann1", "ann2"):
            task = task_next(project=project, user=user(name))
            if task is not None:
                progress = True
                pulled[name].append(task)
                submit(task, user(name), scene(seed_of(task), person_grow=grow[name]), hooks)
    while (gold_task := task_next(project=project, user=user("lead"))) is not None:
        assert gold_task.kind == Task.Kind.GOLD
        submit(gold_task, user("lead"), scene(seed_of(gold_task)), hooks)

    images = Image.objects.filter(batch=batch)
    overlap_images = images.filter(is_overlap_sample=True)
    gold_images = images.filter(is_gold_sample=True)
    assert 0 < overlap_images.count() < 12
    assert 0 < gold_images.count() < 12
    for image in overlap_images:
        assert sorted(
            image.tasks.filter(kind=Task.Kind.ANNOTATE).values_list("assignee__username", flat=True)
        ) == [
            "ann1",
            "ann2",
        ]
    # Annotators cannot tell overlap or gold images apart: the task they receive says nothing.
    body = api(user("ann1")).get(f"/api/tasks/{pulled['ann1'][0].id}/").json()
    assert not {"is_overlap", "is_gold_sample", "is_overlap_sample"} & set(body)
    assert QualityReport.objects.filter(kind="gold", revision__task__image__batch=batch).exists()
    assert QualityReport.objects.filter(kind="agreement", revision__task__image__batch=batch).exists()

    # Peer review: the first item is rejected with a pinned comment, the others accepted.
    first = review_claim_next(project=project, user=user("rev"), stage=ReviewItem.Stage.PEER)
    assert first is not None
    review_decide(
        item=first,
        reviewer=user("rev"),
        decision="reject",
        pins=[PinIn(text="Person too wide here", x=10, y=12)],
    )
    rejected_task = Task.objects.get(id=first.task_id)
    assert rejected_task.status == Task.Status.REJECTED
    while (
        item := review_claim_next(project=project, user=user("rev"), stage=ReviewItem.Stage.PEER)
    ) is not None:
        review_decide(item=item, reviewer=user("rev"), decision="accept")

    # Rework: the author gets the rejected task first, sees the comment, fixes and resubmits.
    author = rejected_task.assignee
    assert author is not None
    rework = task_next(project=project, user=author)
    assert rework is not None
    assert rework.id == rejected_task.id
    comments = api(author).get(f"/api/revisions/{first.revision_id}/comments/").json()
    assert [(c["text"], c["x"], c["y"], c["author"]) for c in comments] == [
        ("Person too wide here", 10.0, 12.0, "rev")
    ]
    fixed = submit(rework, author, scene(seed_of(rework)), hooks, parent=first.revision.number)
    again = ReviewItem.objects.get(revision=fixed, stage=ReviewItem.Stage.PEER)
    assert again.reason == ReviewItem.Reason.REWORK
    review_claim_next(project=project, user=user("rev"), stage=ReviewItem.Stage.PEER)
    review_decide(item=again, reviewer=user("rev"), decision="accept")

    # Senior QA accepts everything peer-accepted.
    senior_items = 0
    while (
        item := review_claim_next(project=project, user=user("lead"), stage=ReviewItem.Stage.SENIOR)
    ) is not None:
        review_decide(item=item, reviewer=user("lead"), decision="accept")
        senior_items += 1
    assert senior_items == ReviewItem.objects.filter(stage="peer", status="accepted").count()
    assert (
        not Task.objects.filter(image__batch=batch, kind=Task.Kind.ANNOTATE)
        .exclude(status=Task.Status.ACCEPTED)
        .exists()
    )
    assert Revision.objects.get(id=fixed.id).status == Revision.Status.ACCEPTED

    # The batch report equals a recomputation from the stored maps.
    report = reports.batch_report(project=project, batch=batch)
    recomputed_gold, recomputed_agreement = recompute_from_maps(batch)
    assert report["gold"]["class_iou"] == {str(k): v for k, v in class_iou(recomputed_gold).per_class.items()}
    assert report["gold"]["pq"]["all"]["pq"] == panoptic_quality(recomputed_gold).all.pq
    assert report["agreement"]["class_iou"] == {
        str(k): v for k, v in class_iou(recomputed_agreement).per_class.items()
    }
    assert report["annotators"]["ann2"]["boundary_drift"][str(PERSON)] == pytest.approx(1.0, abs=0.3)
    assert report["annotators"]["ann1"]["class_iou"][str(PERSON)] == 1.0
    sampling = report["sampling"]
    assert sum(s["submissions"] for s in sampling.values()) == len(
        reports.latest_submissions(project=project, batch=batch)
    )
    assert all(s["coverage"] in (None, 1.0) for s in sampling.values())
    assert report["passed"] is True

    # The command prints the same report; the QA lead accepts the batch, audited.
    out = io.StringIO()
    call_command("qa_report", "city", "--batch", "b1", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(report))
    batch_decide(batch=batch, by=user("lead"), accept=True)
    assert Batch.objects.get(id=batch.id).status == Batch.Status.ACCEPTED
    trail = api(user("boss")).get("/api/projects/city/audit/").json()
    actions = [event["action"] for event in trail]
    assert "batch_accepted" in actions
    assert "peer_reject" in actions
    assert "senior_accept" in actions
    assert "annotator_released" in actions


def recompute_from_maps(batch: Batch) -> tuple[Any, Any]:
    """Measure the batch's final submissions against gold and against each other, from the
    stored index maps, independently of the stored counts."""
    latest = reports.latest_submissions(project=batch.project, batch=batch)

    def labelled(revision: Revision) -> LabelledMap:
        return LabelledMap(
            ids=revision_index_map(revision=revision),
            segments=tuple(Segment(id=s["id"], category_id=s["category_id"]) for s in revision.segments),
        )

    gold_counts, agreement_counts = [], []
    for revision in sorted(latest, key=lambda r: (r.task.image_id, r.id)):
        gold = Revision.objects.filter(
            task__image_id=revision.task.image_id, task__kind="gold", status="accepted"
        ).first()
        if gold is not None:
            gold_counts.append(
                measure_pair(labelled(gold), labelled(revision), categories=CATEGORIES, drift=True)
            )
        earlier = [
            other
            for other in latest
            if other.task.image_id == revision.task.image_id and other.id < revision.id
        ]
        for other in earlier:
            agreement_counts.append(
                measure_pair(labelled(other), labelled(revision), categories=CATEGORIES, drift=True)
            )
    return sum_counts(gold_counts), sum_counts(agreement_counts)


def test_stratified_sampling_rates_are_right_over_many_submissions(db: Any) -> None:
    project = make_project(slug="stats", members={"ann": [Role.ANNOTATOR]}, images=0, size=(8, 6))
    Project.objects.filter(id=project.id).update(
        sampling_seed=7,
        stratum_overrides={str(CAR): "rare"},
        peer_review_rate_dominant=0.15,
        peer_review_rate_rare=0.30,
    )
    project.refresh_from_db()
    n = 400
    images_add(
        project=project, files=[(f"s{i}.png", png_bytes(np.zeros((6, 8, 3), np.uint8))) for i in range(2 * n)]
    )
    annotator = user("ann")
    dominant = np.ones((6, 8), np.uint16)
    dominant[3:, :] = 2
    with_car = dominant.copy()
    with_car[4:6, 2:5] = 3
    from annotation.services import revision_create

    for index, task in enumerate(project.tasks.order_by("id")):
        rare = index % 2 == 1
        segments = [SegmentIn(id=1, category_id=SKY), SegmentIn(id=2, category_id=ROAD)]
        if rare:
            segments.append(SegmentIn(id=3, category_id=CAR))
        task.assignee = annotator
        task.save(update_fields=["assignee"])
        revision = revision_create(
            task=task,
            author=annotator,
            index_map=with_car if rare else dominant,
            segments=segments,
            parent_number=None,
            status=Revision.Status.SUBMITTED,
        )
        Task.objects.filter(id=task.id).update(status=Task.Status.SUBMITTED)
        revision_route(revision_id=revision.id)

    for stratum, rate in (("dominant", 0.15), ("rare", 0.30)):
        decisions = SamplingDecision.objects.filter(revision__task__project=project, stratum=stratum)
        assert decisions.count() == n
        assert set(decisions.values_list("rate", flat=True)) == {rate}
        sampled = decisions.filter(sampled=True).count()
        # Two-sided 99.99 % binomial bound (normal approximation, z = 3.89).
        tolerance = 3.89 * math.sqrt(rate * (1 - rate) / n)
        assert abs(sampled / n - rate) <= tolerance, (stratum, sampled / n, rate, tolerance)
        assert ReviewItem.objects.filter(revision__task__project=project, stratum=stratum).count() == sampled
    assert (
        Task.objects.filter(project=project, status=Task.Status.ACCEPTED).count()
        == 2 * n - ReviewItem.objects.count()
    )


def test_sampling_draws_are_reproducible_from_the_seed(db: Any) -> None:
    from qa.services import sampling_draw

    assert sampling_draw(seed=1, purpose="peer", key=5) == sampling_draw(seed=1, purpose="peer", key=5)
    assert sampling_draw(seed=1, purpose="peer", key=5) != sampling_draw(seed=2, purpose="peer", key=5)
    assert 0 <= sampling_draw(seed=1, purpose="senior", key=5) < 1
