"""``manage.py evaluate``: the reference report, and a one-line error per bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from qa.management.commands.evaluate import Command

from .metrics.support import FIXTURES, first_mismatch


def test_report_on_stdout_matches_the_reference() -> None:
    out = io.StringIO()

    call_command(
        "evaluate", "--gt", str(FIXTURES / "gt.json"), "--pred", str(FIXTURES / "pred.json"), stdout=out
    )

    assert (
        first_mismatch(json.loads((FIXTURES / "expected.json").read_text()), json.loads(out.getvalue()))
        is None
    )


def test_report_goes_to_the_out_file_with_the_chosen_ratio(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    out = io.StringIO()

    call_command(
        "evaluate",
        "--gt",
        str(FIXTURES / "gt.json"),
        "--pred",
        str(FIXTURES / "pred.json"),
        "--boundary-ratio",
        "0.005",
        "--out",
        str(target),
        stdout=out,
    )

    assert out.getvalue() == ""
    expected = json.loads((FIXTURES / "expected_r0005.json").read_text())
    assert first_mismatch(expected, json.loads(target.read_text())) is None


# ----------------------------------------------------------------------------- bad input

CATEGORIES = [{"id": 1, "name": "road", "isthing": 0}, {"id": 3, "name": "car", "isthing": 1}]


def _write_png(path: Path, ids: np.ndarray) -> None:
    rgb = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], axis=-1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb, mode="RGB").save(path)


def _dataset(root: Path) -> dict[str, Any]:
    """A valid two-image dataset: gt.json + gt/, pred.json + pred/ under ``root``."""
    ids = np.ones((6, 8), dtype=np.int64)
    ids[1:4, 2:5] = 300
    gt = {
        "images": [
            {"id": 1, "width": 8, "height": 6, "file_name": "a.jpg"},
            {"id": 2, "width": 8, "height": 6},
        ],
        "categories": CATEGORIES,
        "annotations": [
            {
                "image_id": 1,
                "file_name": "a.png",
                "segments_info": [{"id": 1, "category_id": 1}, {"id": 300, "category_id": 3, "iscrowd": 0}],
            },
            {
                "image_id": 2,
                "file_name": "b.png",
                "segments_info": [{"id": 1, "category_id": 1}, {"id": 300, "category_id": 3}],
            },
        ],
    }
    pred = {
        "annotations": [
            {
                "image_id": 2,
                "file_name": "b.png",
                "segments_info": [{"id": 1, "category_id": 1}, {"id": 300, "category_id": 3, "score": 0.5}],
            },
            {
                "image_id": 1,
                "file_name": "a.png",
                "segments_info": [{"id": 1, "category_id": 1}, {"id": 300, "category_id": 3}],
            },
        ]
    }
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(pred))
    for folder in ("gt", "pred"):
        for name in ("a.png", "b.png"):
            _write_png(root / folder / name, ids)
    return {"gt": gt, "pred": pred, "ids": ids}


def _edit_json(path: Path, change: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _extra_png_id(root: Path) -> None:
    ids = np.ones((6, 8), dtype=np.int64)
    ids[0, 0] = 77
    _write_png(root / "pred" / "a.png", ids)


# (case, how to break the dataset, file that the message must name)
BREAKAGES: list[tuple[str, Callable[[Path], object], str]] = [
    ("missing gt json", lambda r: (r / "gt.json").unlink(), "gt.json"),
    ("missing pred json", lambda r: (r / "pred.json").unlink(), "pred.json"),
    ("malformed gt json", lambda r: (r / "gt.json").write_text('{"images": [}'), "gt.json"),
    ("malformed pred json", lambda r: (r / "pred.json").write_text("not json\n"), "pred.json"),
    (
        "gt json without annotations",
        lambda r: _edit_json(r / "gt.json", lambda d: d.pop("annotations")),
        "gt.json",
    ),
    ("missing gt png", lambda r: (r / "gt" / "b.png").unlink(), "gt/b.png"),
    ("missing pred png", lambda r: (r / "pred" / "a.png").unlink(), "pred/a.png"),
    ("pred png id without segment", _extra_png_id, "pred/a.png"),
    (
        "gt png id without segment",
        lambda r: _edit_json(r / "gt.json", lambda d: d["annotations"][0]["segments_info"].pop()),
        "gt/a.png",
    ),
    (
        "pred segment without pixels",
        lambda r: _edit_json(
            r / "pred.json",
            lambda d: d["annotations"][0]["segments_info"].append({"id": 9, "category_id": 3}),
        ),
        "pred/b.png",
    ),
    (
        "gt png size differs from declared",
        lambda r: _write_png(r / "gt" / "a.png", np.ones((6, 7))),
        "gt/a.png",
    ),
    (
        "pred png size differs from gt",
        lambda r: _write_png(r / "pred" / "b.png", np.ones((5, 8))),
        "pred/b.png",
    ),
    (
        "unknown category in gt",
        lambda r: _edit_json(
            r / "gt.json", lambda d: d["annotations"][1]["segments_info"][1].update(category_id=99)
        ),
        "gt.json",
    ),
    (
        "unknown category in pred",
        lambda r: _edit_json(
            r / "pred.json", lambda d: d["annotations"][0]["segments_info"][1].update(category_id=99)
        ),
        "pred.json",
    ),
    (
        "pred misses an image",
        lambda r: _edit_json(r / "pred.json", lambda d: d["annotations"].pop()),
        "pred.json",
    ),
    (
        "pred has an unknown image",
        lambda r: _edit_json(r / "pred.json", lambda d: d["annotations"][0].update(image_id=5)),
        "pred.json",
    ),
    (
        "gt annotation of an undeclared image",
        lambda r: _edit_json(r / "gt.json", lambda d: d["images"].pop()),
        "gt.json",
    ),
    (
        "grayscale png",
        lambda r: Image.fromarray(np.ones((6, 8), dtype=np.uint8), mode="L").save(r / "gt" / "a.png"),
        "gt/a.png",
    ),
    ("not a png", lambda r: (r / "pred" / "b.png").write_bytes(b"GIF89a nonsense"), "pred/b.png"),
    (
        "score that is not a number",
        lambda r: _edit_json(
            r / "pred.json", lambda d: d["annotations"][0]["segments_info"][1].update(score="high")
        ),
        "pred.json",
    ),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run as ``manage.py evaluate ...`` would: exit status and what went to stderr."""
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "evaluate", *argv])
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_the_small_dataset_is_valid(tmp_path: Path) -> None:
    # Guards the breakage tests: each of them breaks exactly one thing of a valid dataset.
    _dataset(tmp_path)
    out = io.StringIO()

    call_command(
        "evaluate", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), stdout=out
    )

    report = json.loads(out.getvalue())
    assert report["dataset"]["miou"] == 1.0
    assert [image["image_id"] for image in report["images"]] == [1, 2]


@pytest.mark.parametrize(("case", "breakage", "culprit"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_bad_input_exits_non_zero_with_one_line_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    breakage: Callable[[Path], None],
    culprit: str,
) -> None:
    _dataset(tmp_path)
    breakage(tmp_path)

    status, err = _run(["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json")], capsys)

    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"CommandError: {tmp_path / culprit}: "), lines[0]


def test_call_command_raises_the_same_one_line_error(tmp_path: Path) -> None:
    _dataset(tmp_path)
    _extra_png_id(tmp_path)

    with pytest.raises(CommandError) as error:
        call_command("evaluate", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"))

    assert str(error.value) == (
        f"{tmp_path / 'pred' / 'a.png'}: segment id 77 is in the PNG but not in segments_info of image 1"
    )


def test_png_folders_can_be_given_explicitly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _dataset(tmp_path)
    (tmp_path / "gt").rename(tmp_path / "truth")

    status, err = _run(["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json")], capsys)
    assert status != 0
    assert f"{tmp_path / 'gt' / 'a.png'}: no such file" in err

    out = io.StringIO()
    call_command(
        "evaluate",
        "--gt",
        str(tmp_path / "gt.json"),
        "--pred",
        str(tmp_path / "pred.json"),
        "--gt-dir",
        str(tmp_path / "truth"),
        stdout=out,
    )
    assert json.loads(out.getvalue())["dataset"]["miou"] == 1.0


@pytest.mark.parametrize("ratio", ["-0.1", "nan"])
def test_a_meaningless_boundary_ratio_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ratio: str
) -> None:
    _dataset(tmp_path)

    status, err = _run(
        ["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), "--boundary-ratio", ratio],
        capsys,
    )

    assert status != 0
    assert err.strip().splitlines() == [
        f"CommandError: --boundary-ratio must be a finite number >= 0, got {float(ratio)}"
    ]


def test_an_unwritable_out_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _dataset(tmp_path)
    target = tmp_path / "missing-dir" / "report.json"

    status, err = _run(
        ["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), "--out", str(target)],
        capsys,
    )

    assert status != 0
    assert err.strip().startswith(f"CommandError: {target}: cannot be written")
