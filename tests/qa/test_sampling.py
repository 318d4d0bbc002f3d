"""Stratified sampling: which classes are rare (derived from pixel or instance shares, or
overridden), each task counted once, and rates that are statistically right."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from annotation.models import Revision
from annotation.services import SegmentIn, revision_create
from core.roles import Role
from projects.models import Project, Task
from projects.services import images_add
from qa.models import ClassStatistic, ReviewItem, SamplingDecision
from qa.selectors import class_strata
from qa.services import review_claim_next, review_decide, revision_route
from tests.factories import make_project
from tests.helpers import png_bytes
from tests.qa.support import user

ROAD, SKY, PERSON, CAR = 1, 3, 7, 9
H, W = 12, 24


def new_project(
    slug: str, *, images: int, members: dict[str, list[str]] | None = None, **policy: Any
) -> Project:
    members = {"ann": [Role.ANNOTATOR], **(members or {})}
    project = make_project(slug=slug, members=members, images=0, size=(W, H))
    Project.objects.filter(id=project.id).update(overlap_share=0.0, gold_share=0.0, **policy)
    project.refresh_from_db()
    images_add(
        project=project,
        files=[(f"s{i}.png", png_bytes(np.zeros((H, W, 3), np.uint8))) for i in range(images)],
        batch_name="b1",
    )
    return project


def street(*, persons: int = 0, car: bool = False, road_rows: int = 6) -> tuple[np.ndarray, list[SegmentIn]]:
    """Sky over ``road_rows`` rows of road; ``persons`` 2x2 people along the top; a 2x2 car."""
    index_map = np.ones((H, W), np.uint16)
    index_map[H - road_rows :, :] = 2
    segments = [SegmentIn(id=1, category_id=SKY), SegmentIn(id=2, category_id=ROAD)]
    for n in range(persons):
        row, col = divmod(n, 8)
        index_map[2 * row : 2 * row + 2, 3 * col : 3 * col + 2] = 10 + n
        segments.append(SegmentIn(id=10 + n, category_id=PERSON))
    if car:
        index_map[H - 2 :, W - 2 :] = 3
        segments.append(SegmentIn(id=3, category_id=CAR))
    return index_map, segments


def route(task: Task, index_map: np.ndarray, segments: list[SegmentIn]) -> SamplingDecision | None:
    annotator = user("ann")
    if task.assignee_id is None:
        task.assignee = annotator
        task.save(update_fields=["assignee"])
    latest = task.revisions.order_by("-number").first()
    revision = revision_create(
        task=task,
        author=annotator,
        index_map=index_map,
        segments=segments,
        parent_number=latest.number if latest else None,
        status=Revision.Status.SUBMITTED,
    )
    Task.objects.filter(id=task.id).update(status=Task.Status.SUBMITTED)
    return revision_route(revision_id=revision.id)


def strata(project: Project) -> dict[int, tuple[str, str]]:
    return {row["category_id"]: (row["derived"], row["stratum"]) for row in class_strata(project=project)}


def test_a_stuff_class_is_rare_by_its_share_of_labelled_pixels(db: Any) -> None:
    project = new_project("pixels", images=3, rare_class_share=0.05)
    tasks = list(project.tasks.order_by("id"))
    route(tasks[0], *street(road_rows=H - 1))  # road 264 px, sky 24 px
    route(tasks[1], *street(road_rows=1))  # road 24 px, sky 264 px

    # road: 24·11 + 24 = 288 of 576 px → 50 %: dominant. Sky: 24 + 264 = 288 → dominant.
    assert strata(project)[ROAD] == ("dominant", "dominant")
    Project.objects.filter(id=project.id).update(rare_class_share=0.6)
    project.refresh_from_db()
    decision = route(tasks[2], *street(road_rows=1))

    assert decision is not None
    # shares now 312/864 (road) and 552/864 (sky): road under 0.6, sky over it
    assert strata(project)[ROAD] == ("rare", "rare")
    assert strata(project)[SKY] == ("dominant", "dominant")
    assert (decision.stratum, decision.rare_categories) == ("rare", [ROAD])
    assert decision.rate == project.peer_review_rate_rare


def test_a_thing_is_rare_by_its_share_of_instances_not_of_pixels(db: Any) -> None:
    project = new_project("instances", images=2, rare_class_share=0.10)
    tasks = list(project.tasks.order_by("id"))
    route(tasks[0], *street(persons=16))
    # A big car (two full rows, 12 times a person's pixels) is one instance among 33: 3 %.
    index_map, segments = street(persons=16)
    index_map[4:6, :] = 3
    segments.append(SegmentIn(id=3, category_id=CAR))
    decision = route(tasks[1], index_map, segments)

    assert decision is not None
    stats = {s.category_id: (s.pixels, s.instances) for s in ClassStatistic.objects.filter(project=project)}
    assert stats[CAR] == (2 * W, 1)
    assert stats[PERSON] == (16 * 4 * 2, 32)
    assert (decision.stratum, decision.rare_categories) == ("rare", [CAR])
    assert strata(project)[PERSON] == ("dominant", "dominant")  # 32/33 of the instances


def test_overrides_win_over_the_derived_stratum_both_ways(db: Any) -> None:
    project = new_project(
        "overrides",
        images=2,
        rare_class_share=0.10,
        stratum_overrides={str(CAR): "dominant", str(SKY): "rare"},
    )
    tasks = list(project.tasks.order_by("id"))
    route(tasks[0], *street(persons=16))
    decision = route(tasks[1], *street(persons=16, car=True))

    assert decision is not None
    assert strata(project)[CAR] == ("rare", "dominant")
    assert strata(project)[SKY] == ("dominant", "rare")
    assert (decision.stratum, decision.rare_categories) == ("rare", [SKY])
    Project.objects.filter(id=project.id).update(stratum_overrides={str(CAR): "dominant"})
    project.refresh_from_db()
    assert strata(project)[SKY] == ("dominant", "dominant")


def test_rework_replaces_the_tasks_contribution_instead_of_adding_to_it(db: Any) -> None:
    project = new_project("rework", images=2)
    first, second = project.tasks.order_by("id")
    route(first, *street(persons=2))
    route(second, *street(persons=1, car=True))
    once = {s.category_id: (s.pixels, s.instances) for s in ClassStatistic.objects.filter(project=project)}

    for _ in range(3):  # the same task resubmitted three times, the last without its car
        route(second, *street(persons=1, car=False))

    again = {s.category_id: (s.pixels, s.instances) for s in ClassStatistic.objects.filter(project=project)}
    assert again[PERSON] == once[PERSON]
    assert again[CAR] == (0, 0)
    assert again[ROAD] == (once[ROAD][0] + 4, 0)  # the car's pixels are road now
    assert again[SKY] == once[SKY]
    assert sum(p for p, _ in again.values()) == 2 * H * W


def documented(seed: int, purpose: str, key: int) -> float:
    """The documented draw, recomputed here: sha256("seed:purpose:key"), first 8 bytes."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def draw(seed: int, revision_id: int) -> float:
    return documented(seed, "peer", revision_id)


def test_sampling_rates_per_derived_stratum_are_binomially_right(db: Any) -> None:
    n = 400
    project = new_project(
        "stats",
        images=2 * n,
        sampling_seed=7,
        rare_class_share=0.05,
        peer_review_rate_dominant=0.15,
        peer_review_rate_rare=0.30,
    )
    # Every image has sky, road and 12 people; every other one also a car. Cars stay under 5 %
    # of the instances throughout (at most 400 of 10 000), so they are rare by derivation.
    for index, task in enumerate(project.tasks.order_by("id")):
        route(task, *street(persons=12, car=index % 2 == 1))

    decisions = SamplingDecision.objects.filter(revision__task__project=project)
    alpha = 1e-4  # two-sided, exact binomial quantiles
    for stratum, rate in (("dominant", 0.15), ("rare", 0.30)):
        rows = decisions.filter(stratum=stratum)
        assert rows.count() == n
        assert set(rows.values_list("rate", flat=True)) == {rate}
        sampled = rows.filter(sampled=True).count()
        low, high = binom.ppf(alpha / 2, n, rate), binom.isf(alpha / 2, n, rate)
        assert low <= sampled <= high, (stratum, sampled, low, high)
        # Each draw is the documented hash, and sampled exactly when it falls under the rate.
        for row in rows:
            assert row.draw == draw(7, row.revision_id)
            assert row.sampled == (row.draw < rate)
        assert ReviewItem.objects.filter(task__project=project, stratum=stratum).count() == sampled
    rare_rows = decisions.filter(stratum="rare")
    assert {tuple(r) for r in rare_rows.values_list("rare_categories", flat=True)} == {(CAR,)}
    assert (
        Task.objects.filter(project=project, status=Task.Status.ACCEPTED).count()
        == 2 * n - ReviewItem.objects.filter(task__project=project).count()
    )


def test_senior_qa_samples_peer_acceptances_at_its_share(db: Any) -> None:
    n = 300
    project = new_project(
        "senior",
        images=n,
        sampling_seed=11,
        peer_review_rate_dominant=1.0,
        peer_review_rate_rare=1.0,
        senior_qa_share=0.2,
        members={"peer": [Role.REVIEWER]},
    )
    reviewer = user("peer")
    for task in project.tasks.order_by("id"):
        route(task, *street(persons=2))

    accepted = []
    while (item := review_claim_next(project=project, user=reviewer, stage="peer")) is not None:
        review_decide(item=item, reviewer=reviewer, decision="accept")
        accepted.append(item.revision_id)

    assert len(accepted) == n
    senior = set(
        ReviewItem.objects.filter(task__project=project, stage="senior").values_list("revision_id", flat=True)
    )
    # Drawn by the documented hash with purpose "senior", and binomially right.
    assert senior == {r for r in accepted if documented(11, "senior", r) < 0.2}
    assert binom.ppf(5e-5, n, 0.2) <= len(senior) <= binom.isf(5e-5, n, 0.2)
    final = Revision.objects.filter(task__project=project, status=Revision.Status.ACCEPTED)
    assert set(final.values_list("id", flat=True)) == set(accepted) - senior


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_rates_of_zero_and_one_sample_nothing_and_everything(db: Any, share: float) -> None:
    project = new_project("edge", images=20, peer_review_rate_dominant=share, peer_review_rate_rare=share)
    for task in project.tasks.order_by("id"):
        route(task, *street(persons=2))

    sampled = SamplingDecision.objects.filter(revision__task__project=project, sampled=True).count()
    assert sampled == 20 * share


def test_the_policy_api_shows_which_classes_are_rare_now(db: Any, api: Any) -> None:
    project = new_project("shown", images=2, rare_class_share=0.10)
    from projects.services import membership_add

    membership_add(project=project, user=user("ann"), role=Role.MANAGER)
    tasks = list(project.tasks.order_by("id"))
    route(tasks[0], *street(persons=16))
    route(tasks[1], *street(persons=16, car=True))

    body = api(user("ann")).get("/api/projects/shown/qa-policy/").json()

    by_id = {row["category_id"]: row for row in body["class_strata"]}
    assert by_id[CAR] == {
        "category_id": CAR,
        "name": "car",
        "isthing": True,
        "pixels": 4,
        "instances": 1,
        "share": 1 / 33,
        "derived": "rare",
        "override": None,
        "stratum": "rare",
    }
    assert (by_id[PERSON]["share"], by_id[PERSON]["stratum"]) == (32 / 33, "dominant")
    assert by_id[ROAD]["share"] == (2 * 6 * W - 4) / (2 * H * W)  # of all labelled pixels
