"""A scripted project through the whole quality process, checked against an independent
recomputation from the stored maps.

Calibration flags the annotator whose people are dilated by 4 px (the drift shows, with its
sign), the manager releases the others; production mixes overlap and gold images in at
realistic rates; stratified sampling draws peer review (cars are rare); a peer reviewer
rejects, the author reworks, senior QA accepts; the batch report's numbers equal a
recomputation by ``tests/qa/recompute.py`` — plain numpy from the stored index maps, over
pairs this test chose itself — and its sampled coverage equals the draws recomputed from the
documented hash. The sampling rates over many submissions are checked against exact binomial
quantiles in ``test_sampling.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from scipy.stats import binom

from annotation.models import Revision
from annotation.selectors import revision_index_map
from annotation.services import SegmentIn
from core.exceptions import Forbidden
from core.roles import Role
from projects.models import Batch, Image, Project, Task
from projects.services import images_add
from qa import reports
from qa.models import ReviewItem, SamplingDecision
from qa.services import (
    annotator_release,
    calibration_start,
    gold_set,
    policy_update,
    review_claim_next,
    review_decide,
    revision_save,
    task_next,
)
from qa.services.review import PinIn
from tests.factories import make_project
from tests.helpers import map_png, png_bytes
from tests.qa.recompute import Labelled, Sums, add_pair
from tests.qa.support import user

H, W = 40, 60
ROAD, SKY, PERSON, CAR = 1, 3, 7, 9
CATEGORIES = [ROAD, SKY, PERSON, CAR]
ISTHING = {ROAD: False, SKY: False, PERSON: True, CAR: True}
SEED = 20261122


def has_car(seed: int) -> bool:
    # Seeds 109, 119, …: twenty people are labelled before the first car, and cars stay
    # between 4.7 % and 8.4 % of the instances (overlap copies included), under 10 %.
    return seed % 10 == 9


def street(seed: int, *, grow: int = 0, small: bool = True) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Sky over road; a big person placed by ``seed`` and (``small``) a 2x2 one in the sky,
    both dilated by ``grow`` px; a car in one image of ten (rare: about one car per 20 people)."""
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    segments = [{"id": 1, "category_id": SKY}, {"id": 2, "category_id": ROAD}]
    if has_car(seed):
        index_map[24:34, 32:52] = 6
        segments.append({"id": 6, "category_id": CAR})
    g = grow
    x = 8 + (seed * 7) % 20
    index_map[8 - g : 28 + g, x - g : x + 12 + g] = 3
    segments.append({"id": 3, "category_id": PERSON})
    if small:
        index_map[8 - g : 10 + g, 50 - g : 52 + g] = 4
        segments.append({"id": 4, "category_id": PERSON})
    return index_map, segments


def seed_of(image: Image) -> int:
    return int(image.file_name.split(".")[0].split("_")[-1])


@dataclass
class Script:
    """What the test itself did: its own record, independent of the reports."""

    project: Project
    hooks: Any
    final: dict[int, int] = field(default_factory=dict)  # task id → its last submitted revision
    author_of: dict[int, str] = field(default_factory=dict)  # task id → username
    scene_of: dict[int, int] = field(default_factory=dict)  # task id → image seed

    def submit(self, task: Task, name: str, *, grow: int = 0) -> Revision:
        seed = seed_of(task.image)
        # Calibration images hold one person only, so its drift reads close to the offset.
        index_map, segments = street(seed, grow=grow, small=task.image.batch.name != "calib")
        latest = task.revisions.order_by("-number").first()
        with self.hooks(execute=True):
            revision = revision_save(
                task=task,
                author=user(name),
                png=map_png(index_map),
                segments_raw=segments,
                parent_number=latest.number if latest else None,
                submit=True,
            )
        if task.kind != Task.Kind.GOLD:
            self.final[task.id] = revision.id
            self.author_of[task.id] = name
            self.scene_of[task.id] = seed
        return revision


def add_batch(project: Project, name: str, count: int, start: int) -> Batch:
    files = [(f"{name}_{start + i}.png", png_bytes(np.full((H, W, 3), 90, np.uint8))) for i in range(count)]
    images_add(project=project, files=files, batch_name=name)
    return Batch.objects.get(project=project, name=name)


@pytest.fixture
def script(db: Any, django_capture_on_commit_callbacks: Any) -> Script:
    members = {
        "boss": [Role.MANAGER],
        "ann1": [Role.ANNOTATOR],
        "ann2": [Role.ANNOTATOR],
        "ann3": [Role.ANNOTATOR],
        "rev": [Role.REVIEWER],
        "lead": [Role.QA_LEAD],
    }
    project = make_project(slug="city", members=members, images=0, size=(W, H))
    Project.objects.filter(id=project.id).update(sampling_seed=SEED)
    project.refresh_from_db()
    return Script(project=project, hooks=django_capture_on_commit_callbacks)


def labelled(revision_id: int) -> Labelled:
    """A revision as stored: its map read back from storage, its table from the database."""
    revision = Revision.objects.get(id=revision_id)
    return Labelled(
        ids=revision_index_map(revision=revision),
        table={s["id"]: s["category_id"] for s in revision.segments},
    )


def gold_of(image_id: int) -> int | None:
    gold = (
        Revision.objects.filter(task__image_id=image_id, task__kind="gold", status="accepted")
        .order_by("-number")
        .first()
    )
    return gold.id if gold else None


def run_calibration(script: Script) -> Batch:
    project = script.project
    batch = add_batch(project, "calib", 2, start=0)
    calibration_start(project=project, batch=batch, by=user("lead"))
    for image in batch.images.all():
        index_map, segments = street(seed_of(image), small=False)
        with script.hooks(execute=True):
            gold_set(
                image=image,
                author=user("lead"),
                index_map=index_map,
                segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in segments],
            )
    grow = {"ann1": 0, "ann2": 0, "ann3": 4}
    for name in ("ann1", "ann2", "ann3"):
        while (task := task_next(project=project, user=user(name))) is not None:
            assert task.kind == Task.Kind.CALIBRATION
            script.submit(task, name, grow=grow[name])
    return batch


def oracle_against_gold(script: Script, task_ids: list[int]) -> Sums:
    sums = Sums()
    for task_id in sorted(task_ids, key=lambda t: script.final[t]):
        task = Task.objects.get(id=task_id)
        gold = gold_of(task.image_id)
        assert gold is not None
        add_pair(sums, labelled(gold), labelled(script.final[task_id]), categories=CATEGORIES)
    return sums


def test_calibration_flags_the_dilated_annotator_with_positive_drift(script: Script) -> None:
    run_calibration(script)

    report = reports.calibration_report(project=script.project)

    flagged = {(f["annotator"], f["category"]) for f in report["flags"]}
    assert flagged == {("ann3", "person")}
    [flag] = report["flags"]
    ann3_tasks = [t for t, name in script.author_of.items() if name == "ann3"]
    oracle = oracle_against_gold(script, ann3_tasks)
    assert flag["iou"] == oracle.class_iou([PERSON])[str(PERSON)]
    # Drift equals the brute-force definition, and reads as "4 px too wide": exactly 4 on the
    # straight edges, a little more at the corners of the rectangles.
    assert flag["boundary_drift"] == pytest.approx(oracle.drift([PERSON])[str(PERSON)], abs=1e-9)
    assert 4.0 < flag["boundary_drift"] < 4.5
    ann3 = report["annotators"]["ann3"]
    assert close(ann3["boundary_drift"], oracle.drift(CATEGORIES), 1e-9)
    assert ann3["boundary_drift"][str(SKY)] < 0  # sky shrank where the people grew
    assert close(ann3["boundary_iou"], oracle.boundary_iou(CATEGORIES), 1e-12)
    for name in ("ann1", "ann2"):
        assert report["annotators"][name]["class_iou"] == {
            str(ROAD): 1.0,
            str(SKY): 1.0,
            str(PERSON): 1.0,
            str(CAR): None,
        }
        assert set(report["annotators"][name]["boundary_drift"].values()) <= {0.0, None}
    assert {tuple(p["annotators"]) for p in report["agreement_pairs"]} == {
        ("ann1", "ann2"),
        ("ann1", "ann3"),
        ("ann2", "ann3"),
    }
    assert report["progress"]["ann3"] == {"submitted": 2, "released": False}


def test_annotators_wait_in_calibration_until_released(script: Script) -> None:
    project = script.project
    run_calibration(script)
    add_batch(project, "b1", 2, start=10)

    assert task_next(project=project, user=user("ann1")) is None
    annotator_release(project=project, user=user("ann1"), by=user("boss"))
    released = task_next(project=project, user=user("ann1"))

    assert released is not None
    assert released.kind == Task.Kind.ANNOTATE
    assert task_next(project=project, user=user("ann3")) is None
    with pytest.raises(Forbidden):
        annotator_release(project=project, user=user("ann2"), by=user("lead"))


def close(actual: Any, expected: Any, tolerance: float) -> bool:
    """Nested dicts equal, numbers within ``tolerance``, ``None`` only where ``None``."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(close(actual[k], v, tolerance) for k, v in expected.items())
        )
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= tolerance


def documented_draw(seed: int, purpose: str, key: int) -> float:
    digest = hashlib.sha256(f"{seed}:{purpose}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def test_scripted_project_from_calibration_to_batch_report(script: Script, api: Any) -> None:
    project = script.project
    run_calibration(script)
    for name in ("ann1", "ann2"):
        annotator_release(project=project, user=user(name), by=user("boss"))
    # Realistic rates; senior QA takes every peer acceptance so the rework's path is certain.
    policy_update(
        project=project,
        by=user("boss"),
        changes={"overlap_share": 0.3, "gold_share": 0.3, "senior_qa_share": 1.0, "rare_class_share": 0.10},
    )
    project.refresh_from_db()
    assert (project.peer_review_rate_dominant, project.peer_review_rate_rare) == (0.15, 0.30)
    batch = add_batch(project, "b1", 40, start=100)

    # Production: annotators pull until nothing is left; ann2 draws people 1 px too wide.
    grow = {"ann1": 0, "ann2": 1}
    first_task: dict[str, Task] = {}
    progress = True
    while progress:
        progress = False
        for name in ("ann1", "ann2"):
            task = task_next(project=project, user=user(name))
            if task is not None:
                progress = True
                first_task.setdefault(name, task)
                script.submit(task, name, grow=grow[name])
    # The QA lead labels the gold images afterwards: late gold re-measures what was submitted.
    while (gold_task := task_next(project=project, user=user("lead"))) is not None:
        assert gold_task.kind == Task.Kind.GOLD
        script.submit(gold_task, "lead")

    images = Image.objects.filter(batch=batch)
    overlap_images = list(images.filter(is_overlap_sample=True))
    gold_images = list(images.filter(is_gold_sample=True))
    assert 0 < len(overlap_images) < 40
    assert 0 < len(gold_images) < 40
    for image in images:
        assert image.is_overlap_sample == (documented_draw(SEED, "overlap", image.id) < 0.3)
        assert image.is_gold_sample == (documented_draw(SEED, "gold", image.id) < 0.3)
    for image in overlap_images:
        names = image.tasks.filter(kind=Task.Kind.ANNOTATE).values_list("assignee__username", flat=True)
        assert sorted(names) == ["ann1", "ann2"]
    # Annotators cannot tell overlap or gold images apart: the task they receive says nothing.
    body = api(user("ann1")).get(f"/api/tasks/{first_task['ann1'].id}/").json()
    assert not {"is_overlap", "is_gold_sample", "is_overlap_sample"} & set(body)

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
    author = script.author_of[rejected_task.id]
    rework = task_next(project=project, user=user(author))
    assert rework is not None
    assert rework.id == rejected_task.id
    comments = api(user(author)).get(f"/api/revisions/{first.revision_id}/comments/").json()
    assert [(c["text"], c["x"], c["y"], c["author"]) for c in comments] == [
        ("Person too wide here", 10.0, 12.0, "rev")
    ]
    fixed = script.submit(rework, author, grow=0)
    again = ReviewItem.objects.get(revision=fixed, stage=ReviewItem.Stage.PEER)
    assert again.reason == ReviewItem.Reason.REWORK
    assert review_claim_next(project=project, user=user("rev"), stage=ReviewItem.Stage.PEER) == again
    review_decide(item=again, reviewer=user("rev"), decision="accept")

    # Senior QA accepts everything peer-accepted, the rework included.
    senior_decided = []
    while (
        item := review_claim_next(project=project, user=user("lead"), stage=ReviewItem.Stage.SENIOR)
    ) is not None:
        review_decide(item=item, reviewer=user("lead"), decision="accept")
        senior_decided.append(item.revision_id)
    assert fixed.id in senior_decided
    assert len(senior_decided) == ReviewItem.objects.filter(stage="peer", status="accepted").count()
    assert not Task.objects.filter(image__batch=batch).exclude(status=Task.Status.ACCEPTED).exists()
    assert Revision.objects.get(id=fixed.id).status == Revision.Status.ACCEPTED

    # --- the batch report against the independent recomputation --------------------------------
    report = reports.batch_report(project=project, batch=batch)
    batch_tasks = [t for t in script.final if Task.objects.get(id=t).image.batch_id == batch.id]
    assert report["submissions"] == len(batch_tasks)
    assert report["complete"] is True
    gold_tasks = [t for t in batch_tasks if gold_of(Task.objects.get(id=t).image_id) is not None]
    assert gold_tasks

    gold = oracle_against_gold(script, gold_tasks)
    assert report["gold"]["images"] == len(gold_tasks)
    assert report["gold"]["class_iou"] == gold.class_iou(CATEGORIES)
    assert close(report["gold"]["boundary_iou"], gold.boundary_iou(CATEGORIES), 1e-12)
    assert close(report["gold"]["pq"], gold.pq(ISTHING), 1e-12)

    for name in ("ann1", "ann2"):
        own = [t for t in gold_tasks if script.author_of[t] == name]
        mine = oracle_against_gold(script, own)
        figures = report["annotators"][name]
        assert figures["images"] == len(own)
        assert figures["class_iou"] == mine.class_iou(CATEGORIES)
        assert close(figures["boundary_iou"], mine.boundary_iou(CATEGORIES), 1e-12)
        assert close(figures["boundary_drift"], mine.drift(CATEGORIES), 1e-9)
    ann2_drift = report["annotators"]["ann2"]["boundary_drift"][str(PERSON)]
    # With this seed ann2 has gold images besides any reworked one (redrawn at grow=0), so the
    # 1 px dilation must show in production too, with its sign: drawn too wide, positive.
    assert any(script.author_of[t] == "ann2" and t != rejected_task.id for t in gold_tasks)
    assert ann2_drift > 0
    assert set(report["annotators"]["ann1"]["boundary_drift"].values()) <= {0.0, None}

    # Agreement: the two annotations of each overlap image, the earlier one as reference.
    pairs = Sums()
    pair_count = 0
    for image in sorted(overlap_images, key=lambda i: i.id):
        revisions = sorted(script.final[t.id] for t in image.tasks.filter(kind=Task.Kind.ANNOTATE))
        assert len(revisions) == 2
        add_pair(pairs, labelled(revisions[0]), labelled(revisions[1]), categories=CATEGORIES)
        pair_count += 1
    assert report["agreement"]["images"] == pair_count
    assert report["agreement"]["class_iou"] == pairs.class_iou(CATEGORIES)
    assert close(report["agreement"]["pq"], pairs.pq(ISTHING), 1e-12)
    [pair] = report["agreement_pairs"]
    assert (pair["annotators"], pair["images"], pair["class_iou"]) == (
        ["ann1", "ann2"],
        pair_count,
        pairs.class_iou(CATEGORIES),
    )

    # Sampled coverage per stratum: strata from the scenes, draws from the documented hash.
    expected: dict[str, dict[str, int]] = {
        s: {"submissions": 0, "sampled": 0, "forced": 0} for s in ("dominant", "rare")
    }
    for task_id in batch_tasks:
        revision_id = script.final[task_id]
        stratum = "rare" if has_car(script.scene_of[task_id]) else "dominant"
        rate = 0.30 if stratum == "rare" else 0.15
        decision = SamplingDecision.objects.get(revision_id=revision_id)
        assert (decision.stratum, decision.rate) == (stratum, rate)
        sampled = documented_draw(SEED, "peer", revision_id) < rate
        expected[stratum]["submissions"] += 1
        expected[stratum]["sampled"] += int(sampled)
        expected[stratum]["forced"] += int(bool(decision.forced_reasons) and not sampled)
    for stratum, counts in expected.items():
        row = report["sampling"][stratum]
        assert {k: row[k] for k in counts} == counts, stratum
        assert row["rate"] == (0.30 if stratum == "rare" else 0.15)
        assert row["reviewed"] == counts["sampled"] + counts["forced"]  # every item was decided
        assert row["coverage"] == (counts["sampled"] + counts["forced"]) / counts["submissions"]
        # Loose here (tens of submissions); test_sampling.py checks hundreds.
        n, p = counts["submissions"], row["rate"]
        assert binom.ppf(1e-4, n, p) <= counts["sampled"] <= binom.isf(1e-4, n, p)
    assert expected["rare"]["submissions"] > 0

    floors_met = all(
        v is None or v >= project.batch_iou_floor for v in gold.class_iou(CATEGORIES).values()
    ) and all(v is None or v >= project.batch_agreement_floor for v in pairs.class_iou(CATEGORIES).values())
    assert report["passed"] is floors_met

    # The command prints the same report; the QA lead decides the batch, audited.
    out = io.StringIO()
    call_command("qa_report", "city", "--batch", "b1", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(report))
    decided = api(user("lead")).post(
        "/api/projects/city/batches/b1/decision/",
        {"accept": True, "reason": "" if floors_met else "small people are hard; retraining ann2"},
        format="json",
    )
    assert decided.status_code == 200, decided.content
    assert Batch.objects.get(id=batch.id).status == Batch.Status.ACCEPTED
    trail = api(user("boss")).get("/api/projects/city/audit/").json()
    actions = [event["action"] for event in trail]
    for action in ("batch_accepted", "peer_reject", "peer_accept", "senior_accept", "annotator_released"):
        assert action in actions
