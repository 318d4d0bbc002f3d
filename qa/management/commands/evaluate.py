"""``manage.py evaluate``: score COCO panoptic predictions against ground truth.

A thin shell over :func:`qa.metrics.coco_panoptic.evaluate_coco_panoptic`; every input problem
becomes a one-line ``CommandError`` naming the file at fault (non-zero exit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qa.metrics.coco_panoptic import DatasetError, evaluate_coco_panoptic


class Command(BaseCommand):
    # Reads files and writes a report; touches no model, so Django's checks add nothing.
    requires_system_checks: list[str] = []
    help = (
        "Evaluate COCO panoptic predictions against ground truth: class IoU, boundary IoU, PQ, "
        "boundary PQ, mask AP (JSON report on stdout, or --out)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gt", required=True, help="ground-truth panoptic JSON")
        parser.add_argument("--pred", required=True, help="prediction panoptic JSON")
        parser.add_argument("--gt-dir", help="ground-truth PNG folder (default: GT path without .json)")
        parser.add_argument("--pred-dir", help="prediction PNG folder (default: PRED path without .json)")
        parser.add_argument(
            "--boundary-ratio", type=float, default=0.02, help="band width as a share of the image diagonal"
        )
        parser.add_argument("--out", help="write the report here instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        ratio = options["boundary_ratio"]
        if not math.isfinite(ratio) or ratio < 0:
            raise CommandError(f"--boundary-ratio must be a finite number >= 0, got {ratio}")
        try:
            report = evaluate_coco_panoptic(
                gt_json=options["gt"],
                pred_json=options["pred"],
                gt_dir=options["gt_dir"],
                pred_dir=options["pred_dir"],
                boundary_ratio=ratio,
            )
        except DatasetError as error:
            raise CommandError(str(error)) from None
        text = json.dumps(report, indent=1, allow_nan=False)
        if options["out"]:
            out = Path(options["out"])
            try:
                out.write_text(text + "\n", encoding="utf-8")
            except OSError as error:
                raise CommandError(f"{out}: cannot be written ({error.strerror})") from None
        else:
            self.stdout.write(text)
