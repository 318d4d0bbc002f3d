"""The batch report's downloads and the qa_report command: the CSV holds every value of the
JSON report, the page and the command give the same as the API, bad arguments fail clearly."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from projects.models import Batch, Task
from projects.services import images_add
from qa.reports import batch_report, batch_report_rows
from qa.services import review_claim_next, review_decide
from tests.helpers import png_bytes
from tests.qa.support import World, build_world, make_gold, save, scene


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    world = build_world(django_capture_on_commit_callbacks)
    first, second = world.items
    # A second annotation of image 1 (agreement), and gold on both images; ann2 is off on gold.
    partner = Task.objects.create(
        project=world.project,
        image=second.task.image,
        taxonomy=second.task.taxonomy,
        assignee=world.users["ann1"],
        is_overlap=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        save(partner, world.users["ann1"], scene(horizon=9))
        make_gold(first.task.image, world.users["lead"], scene())
        make_gold(second.task.image, world.users["lead"], scene(horizon=12))
    while (
        item := review_claim_next(project=world.project, user=world.users["rev"], stage="peer")
    ) is not None:
        review_decide(item=item, reviewer=world.users["rev"], decision="accept")
    return world


def leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(value, dict):
        found: dict[tuple[str, ...], Any] = {}
        for key, item in value.items():
            found.update(leaves(item, (*path, str(key))))
        return found
    return {path: value}


def cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_holds_every_value_of_the_json_report(api: Any, world: World) -> None:
    lead = world.client(api, "lead")
    report = lead.get("/api/projects/p/batches/b1/report/").json()
    response = lead.get("/api/projects/p/batches/b1/report/?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="p-b1-qa.csv"' in response["Content-Disposition"]
    rows = csv_rows(response.content.decode())
    assert rows[0] == ["section", "annotator", "category_id", "category", "metric", "value"]
    # Sampling rows name their stratum in the category column.
    table = {(r[0], r[1], r[2], r[4] + "@" + r[3] if r[0] == "sampling" else r[4]): r[5] for r in rows[1:]}
    assert len(table) == len(rows) - 1  # one value per key
    assert report["gold"] is not None
    assert report["agreement"] is not None
    assert report["failures"]  # ann2 misses gold on image 1: the batch fails, with reasons

    expected: dict[tuple[str, str, str, str], Any] = {
        ("batch", "", "", "submissions"): report["submissions"],
        ("batch", "", "", "status"): report["status"],
        ("result", "", "", "passed"): report["passed"],
        ("result", "", "", "complete"): report["complete"],
    }
    expected.update({("threshold", "", "", k): v for k, v in report["thresholds"].items()})
    expected.update({("open_work", "", "", k): v for k, v in report["open_work"].items()})
    for section in ("gold", "agreement"):
        found = report[section]
        for metric in ("images", "miou", "mean_boundary_iou"):
            expected[(section, "", "", metric)] = found[metric]
        for metric in ("class_iou", "boundary_iou", "boundary_drift"):
            expected.update({(section, "", c, metric): v for c, v in found[metric].items()})
        for (group, metric), v in leaves(found["pq"]).items():
            expected[(section, "", "", f"{metric}.{group}")] = v
        for (category, metric), v in leaves(found["pq_per_class"]).items():
            expected[(section, "", category, f"class_{metric}")] = v
    for pair in report["agreement_pairs"]:
        who = "+".join(pair["annotators"])
        expected[("agreement_pair", who, "", "images")] = pair["images"]
        expected[("agreement_pair", who, "", "miou")] = pair["miou"]
        expected.update({("agreement_pair", who, c, "class_iou"): v for c, v in pair["class_iou"].items()})
    for author, data in report["annotators"].items():
        expected[("annotator", author, "", "images")] = data["images"]
        expected[("annotator", author, "", "miou")] = data["miou"]
        for metric in ("class_iou", "boundary_iou", "boundary_drift"):
            expected.update({("annotator", author, c, metric): v for c, v in data[metric].items()})
    for stratum, data in report["sampling"].items():
        for metric, v in data.items():
            expected[("sampling", "", "", metric + "@" + stratum)] = v
    for failure in report["failures"]:
        category = str(failure.get("category_id", ""))
        expected[("failure", "", category, failure["metric"])] = failure.get("value", failure.get("reason"))
        if "floor" in failure:
            expected[("failure_floor", "", category, failure["metric"])] = failure["floor"]
    for category, values in report["class_thresholds"].items():
        expected.update({("threshold", "", category, k): v for k, v in values.items()})
    assert table == {k: cell(v) for k, v in expected.items()}
    names = {r[2]: r[3] for r in rows[1:] if r[2] and r[0] != "sampling"}
    assert names == {k: v for k, v in report["categories"].items() if k in names}


def test_the_page_downloads_equal_the_api(client: Any, api: Any, world: World) -> None:
    client.force_login(world.users["boss"])
    lead = world.client(api, "boss")

    page_json = client.get("/qa/p/batches/b1/?format=json")
    page_csv = client.get("/qa/p/batches/b1/?format=csv")

    assert 'filename="p-b1-qa.json"' in page_json["Content-Disposition"]
    assert json.loads(page_json.content) == lead.get("/api/projects/p/batches/b1/report/").json()
    assert page_csv.content == lead.get("/api/projects/p/batches/b1/report/?format=csv").content


def test_an_unknown_format_is_refused(api: Any, world: World) -> None:
    response = world.client(api, "lead").get("/api/projects/p/batches/b1/report/?format=xml")

    assert response.status_code == 400
    assert response.json()["detail"] == "format must be json or csv."


def test_an_unknown_batch_is_not_found(api: Any, world: World) -> None:
    response = world.client(api, "lead").get("/api/projects/p/batches/nope/report/")

    assert response.status_code == 404
    assert response.json()["detail"] == "No batch 'nope' in p."


def test_qa_report_prints_the_csv_with_a_batch_column(world: World) -> None:
    out = io.StringIO()

    call_command("qa_report", "p", "--batch", "b1", "--format", "csv", stdout=out)

    rows = csv_rows(out.getvalue())
    report = batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
    expected = batch_report_rows(report)
    assert rows[0] == ["batch", *expected[0]]
    assert rows[1:] == [["b1", *(cell(v) for v in row)] for row in expected[1:]]


def test_qa_report_without_a_batch_prints_every_production_batch(world: World) -> None:
    images_add(
        project=world.project, files=[("c.png", png_bytes(np.zeros((4, 4, 3), np.uint8)))], batch_name="c1"
    )
    images_add(
        project=world.project, files=[("b2.png", png_bytes(np.zeros((4, 4, 3), np.uint8)))], batch_name="b2"
    )
    Batch.objects.filter(project=world.project, name="c1").update(is_calibration=True)
    out = io.StringIO()

    call_command("qa_report", "p", stdout=out)

    payload = json.loads(out.getvalue())
    assert set(payload) == {"project", "batches", "calibration", "agreement_over_batches"}
    assert [b["batch"] for b in payload["batches"]] == ["b1", "b2"]
    assert payload["batches"][0] == json.loads(
        json.dumps(
            batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
        )
    )
    assert [row["batch"] for row in payload["agreement_over_batches"]] == ["b1", "b2"]
    assert payload["calibration"]["project"] == "p"
    csv_out = io.StringIO()
    call_command("qa_report", "p", "--format", "csv", stdout=csv_out)
    batches = {row[0] for row in csv_rows(csv_out.getvalue())[1:]}
    assert batches == {"b1", "b2"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No project 'nope'."),
        (["p", "--batch", "nope"], "No production batch 'nope' in p."),
        (["p", "--batch", "calib"], "No production batch 'calib' in p."),
    ],
)
def test_qa_report_fails_clearly_on_bad_arguments(world: World, args: list[str], message: str) -> None:
    Batch.objects.create(project=world.project, name="calib", is_calibration=True)

    with pytest.raises(CommandError, match=message):
        call_command("qa_report", *args, stdout=io.StringIO())
