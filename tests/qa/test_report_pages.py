"""The charts on the QA pages, read back from the rendered SVG: per-class IoU bars with the
threshold line where it belongs, one heatmap cell per annotator × class, one point per batch
on the agreement line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from projects.models import Task
from projects.services import images_add
from qa import reports
from qa.services import policy_update, review_claim_next, review_decide
from tests.helpers import png_bytes
from tests.qa.support import H, W, World, build_world, make_gold, save, scene, user

SVG = "{http://www.w3.org/2000/svg}"
LABEL_WIDTH, BAR_WIDTH = 130, 320  # qa.plots.bar_chart's layout


def charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


def titled(html: str, title: str) -> ET.Element:
    found = [svg for svg in charts(html) if svg.get("aria-label") == title]
    assert len(found) == 1, [svg.get("aria-label") for svg in charts(html)]
    return found[0]


def second_annotation(world: World, task: Task, name: str, horizon: int, hooks: Any) -> None:
    partner = Task.objects.create(
        project=world.project,
        image=task.image,
        taxonomy=task.taxonomy,
        assignee=world.users[name],
        is_overlap=True,
    )
    with hooks(execute=True):
        save(partner, world.users[name], scene(horizon=horizon))


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    hooks = django_capture_on_commit_callbacks
    world = build_world(hooks)
    first, second = world.items
    second_annotation(world, second.task, "ann1", 9, hooks)
    with hooks(execute=True):
        make_gold(first.task.image, world.users["lead"], scene())
        make_gold(second.task.image, world.users["lead"], scene(horizon=12))
    # Batch b2: one image annotated twice (agreement only); b3: nothing measured yet.
    blank = png_bytes(np.zeros((H, W, 3), np.uint8))
    images_add(project=world.project, files=[("b2.png", blank)], batch_name="b2")
    images_add(project=world.project, files=[("b3.png", blank)], batch_name="b3")
    b2_task = world.project.tasks.get(image__file_name="b2.png")
    b2_task.assignee = world.users["ann2"]
    b2_task.save(update_fields=["assignee"])
    with hooks(execute=True):
        save(b2_task, world.users["ann2"], scene(horizon=4))
    second_annotation(world, b2_task, "ann1", 6, hooks)
    while (
        item := review_claim_next(project=world.project, user=world.users["rev"], stage="peer")
    ) is not None:
        review_decide(item=item, reviewer=world.users["rev"], decision="accept")
    return world


def bars(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f"{SVG}rect")


def test_the_batch_page_draws_per_class_bars_and_the_threshold_line(client: Any, world: World) -> None:
    report = reports.batch_report(project=world.project, batch=world.project.batches.get(name="b1"))
    client.force_login(world.users["lead"])

    html = client.get("/qa/p/batches/b1/").content.decode()

    for title, values, floor in (
        ("Per-class IoU against gold", report["gold"]["class_iou"], 0.75),
        ("Per-class agreement between annotators (IoU)", report["agreement"]["class_iou"], 0.70),
    ):
        svg = titled(html, title)
        ids = sorted(values, key=int)
        shown = [(i, values[i]) for i in ids if values[i] is not None]
        rects = bars(svg)
        assert len(rects) == len(shown)
        for rect, (_, value) in zip(rects, shown, strict=True):
            assert float(rect.get("width", "")) == pytest.approx(BAR_WIDTH * value, abs=0.05)
            assert (rect.get("fill") == "rgb(220,60,70)") == (value < floor)
        [line] = [e for e in svg.findall(f"{SVG}line") if e.get("class") == "threshold"]
        assert (
            float(line.get("x1", ""))
            == float(line.get("x2", ""))
            == pytest.approx(LABEL_WIDTH + BAR_WIDTH * floor)
        )
        labels = [t.text for t in svg.findall(f"{SVG}text")]
        assert f"threshold {floor:.2f}" in labels
        assert [report["categories"][i] for i in ids] == [
            t for t in labels if t in report["categories"].values()
        ]
        assert labels.count("n/a") == len(ids) - len(shown)


def test_a_class_with_its_own_floor_gets_its_own_mark(client: Any, world: World) -> None:
    policy_update(
        project=world.project,
        by=world.users["boss"],
        changes={"class_thresholds": {"3": {"batch_iou_floor": 0.9}}},
    )
    client.force_login(world.users["lead"])

    svg = titled(client.get("/qa/p/batches/b1/").content.decode(), "Per-class IoU against gold")

    [mark] = [e for e in svg.findall(f"{SVG}line") if e.get("class") == "floor"]
    assert float(mark.get("x1", "")) == pytest.approx(LABEL_WIDTH + BAR_WIDTH * 0.9)
    # The sky's row (ids in order: road 1, sky 3, …): row 1 starts 24 + 18 px down.
    assert float(mark.get("y1", "")) == 24 + 18


def test_the_annotator_heatmap_has_one_cell_per_annotator_and_class(client: Any, world: World) -> None:
    report = reports.batch_report(project=world.project, batch=world.project.batches.get(name="b1"))
    client.force_login(world.users["boss"])

    svg = titled(client.get("/qa/p/batches/b1/").content.decode(), "Annotator × class IoU against gold")

    cells = bars(svg)
    annotators = sorted(report["annotators"])
    ids = sorted(report["categories"], key=int)
    assert annotators == ["ann1", "ann2"]
    assert len(cells) == len(annotators) * len(ids)
    values = [t.text for t in svg.findall(f"{SVG}text") if t.text and re.fullmatch(r"\d\.\d\d", t.text)]
    expected = [
        f"{report['annotators'][a]['class_iou'][i]:.2f}"
        for a in annotators
        for i in ids
        if report["annotators"][a]["class_iou"].get(i) is not None
    ]
    assert values == expected
    empty = [c for c in cells if c.get("fill") == "#eee"]
    assert len(empty) == sum(
        1 for a in annotators for i in ids if report["annotators"][a]["class_iou"].get(i) is None
    )
    outlined = [c for c in cells if c.get("stroke") == "#111"]
    assert len(outlined) == sum(
        1 for a in annotators for i in ids if (report["annotators"][a]["class_iou"].get(i) or 1.0) < 0.75
    )


def test_the_dashboard_draws_one_point_per_batch_and_series(client: Any, world: World) -> None:
    series = reports.agreement_over_batches(project=world.project)
    assert [row["batch"] for row in series] == ["b1", "b2", "b3"]
    assert series[1]["gold_miou"] is None
    assert series[2]["agreement_miou"] is None
    client.force_login(world.users["lead"])

    svg = titled(client.get("/qa/p/").content.decode(), "Agreement and gold mIoU over batches")

    left, top, plot_h = 40, 28, 160  # qa.plots.line_chart's layout
    step = max(120, 60 * 3) / (3 - 1)
    points = [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in svg.findall(f"{SVG}circle")]
    expected = []
    for key in ("agreement_miou", "gold_miou"):
        for index, row in enumerate(series):
            if row[key] is not None:
                expected.append((left + index * step, top + plot_h * (1 - row[key])))
    assert len(points) == len(expected) == 3
    for (x, y), (ex, ey) in zip(points, expected, strict=True):
        assert (x, y) == (pytest.approx(ex, abs=0.05), pytest.approx(ey, abs=0.05))
    polylines = svg.findall(f"{SVG}polyline")
    assert len(polylines) == 1  # agreement has two points (b1, b2); gold one (b1): no line
    assert len(polylines[0].get("points", "").split()) == 2
    [line] = [e for e in svg.findall(f"{SVG}line") if e.get("class") == "threshold"]
    assert float(line.get("y1", "")) == pytest.approx(top + plot_h * (1 - 0.70), abs=0.05)


def calibrated_city(hooks: Any) -> dict[str, Any]:
    """Project "city" after the scripted calibration (ann3 dilates person); its report."""
    from core.roles import Role
    from tests.factories import make_project
    from tests.qa.test_quality_workflow import H as CH
    from tests.qa.test_quality_workflow import Script, run_calibration
    from tests.qa.test_quality_workflow import W as CW

    members = {
        "boss": [Role.MANAGER],
        "ann1": [Role.ANNOTATOR],
        "ann2": [Role.ANNOTATOR],
        "ann3": [Role.ANNOTATOR],
        "lead": [Role.QA_LEAD],
    }
    project = make_project(slug="city", members=members, images=0, size=(CW, CH))
    run_calibration(Script(project=project, hooks=hooks))
    return reports.calibration_report(project=project)


def test_the_calibration_heatmap_has_one_cell_per_annotator_and_class(
    client: Any, db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    report = calibrated_city(django_capture_on_commit_callbacks)
    client.force_login(user("lead"))

    html = client.get("/qa/city/calibration/").content.decode()

    svg = titled(html, "IoU against gold (annotator × class)")
    assert len(bars(svg)) == len(report["annotators"]) * len(report["categories"])
    outlined = [c for c in bars(svg) if c.get("stroke") == "#111"]
    assert len(outlined) == len(report["flags"]) == 1  # ann3's person
    assert "drift 4." in html  # the flag names the drift, in px


def test_the_calibration_page_shows_boundary_iou_per_annotator_and_class(
    client: Any, db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    report = calibrated_city(django_capture_on_commit_callbacks)
    client.force_login(user("boss"))

    svg = titled(
        client.get("/qa/city/calibration/").content.decode(), "Boundary IoU against gold (annotator × class)"
    )

    annotators = sorted(report["annotators"])
    ids = sorted(report["categories"], key=int)
    assert len(bars(svg)) == len(annotators) * len(ids)
    values = [t.text for t in svg.findall(f"{SVG}text") if t.text and re.fullmatch(r"\d\.\d\d", t.text)]
    expected = [
        f"{report['annotators'][a]['boundary_iou'][i]:.2f}"
        for a in annotators
        for i in ids
        if report["annotators"][a]["boundary_iou"].get(i) is not None
    ]
    assert values == expected
    assert any(v != "1.00" for v in values)  # ann3's dilated person shows


def test_the_batch_page_draws_agreement_over_batches(client: Any, world: World) -> None:
    series = reports.agreement_over_batches(project=world.project)
    client.force_login(world.users["lead"])

    svg = titled(client.get("/qa/p/batches/b2/").content.decode(), "Agreement and gold mIoU over batches")

    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert [row["batch"] for row in series] == ["b1", "b2", "b3"]
    assert {"b1", "b2", "b3"} <= set(labels)
    points = svg.findall(f"{SVG}circle")
    assert len(points) == sum(
        1 for row in series for key in ("agreement_miou", "gold_miou") if row[key] is not None
    )
    assert [e.get("class") for e in svg.findall(f"{SVG}line")].count("threshold") == 1


def test_the_batch_page_lists_agreement_per_pair_of_annotators(client: Any, world: World) -> None:
    report = reports.batch_report(project=world.project, batch=world.project.batches.get(name="b1"))
    client.force_login(world.users["lead"])

    html = client.get("/qa/p/batches/b1/").content.decode()

    table = re.search(r'<table class="tasks numbers" id="agreement-pairs">.*?</table>', html, re.S)
    assert table is not None
    rows = re.findall(r"<tr><td>([^<]*)</td>((?:<td>[^<]*</td>)*)</tr>", table.group(0))
    ids = sorted(report["categories"], key=int)
    expected = [
        (
            " × ".join(pair["annotators"]),
            [str(pair["images"]), f"{pair['miou']:.3f}"]
            + [f"{pair['class_iou'][i]:.3f}" if pair["class_iou"].get(i) is not None else "–" for i in ids],
        )
        for pair in report["agreement_pairs"]
    ]
    assert [(who, re.findall(r"<td>([^<]*)</td>", cells)) for who, cells in rows] == expected
    assert len(expected) == 1  # ann1 × ann2 on the image both labelled
