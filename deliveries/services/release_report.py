"""The QA report of a release: what the client receives beside the data, as JSON and as a
readable HTML page with server-side SVG charts (no JavaScript, no CDN, every label escaped).

The class distribution is counted from the delivered maps. The QA figures are whatever
``qa.reports.quality_summary`` returns for the release's images; a part that is ``None``
(nothing was measured) is shown as "no QA measurements", and keys this module does not know
are still shown, as a generic table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from deliveries.formats import ImageStats
from qa import plots

# --- class distribution, counted from the maps -------------------------------------------------------


@dataclass
class ClassCount:
    pixels: int = 0
    instances: int = 0
    crowd_regions: int = 0
    segments: int = 0
    images: int = 0


@dataclass
class Distribution:
    """Pixels and instances per category over the delivered maps."""

    isthing: Mapping[int, bool]
    classes: dict[int, ClassCount] = field(default_factory=dict)
    images: int = 0
    pixels: int = 0
    void_pixels: int = 0

    def add_stats(self, stats: ImageStats) -> None:
        """Count one image from an export pass's statistics: pixels per segment as found in
        the map itself (not the stored areas), void = the pixels no segment holds."""
        self.images += 1
        self.pixels += stats.pixels
        self.void_pixels += stats.pixels - sum(stats.areas)
        seen: set[int] = set()
        for segment, area in zip(stats.segments, stats.areas, strict=True):
            if not area:
                continue
            row = self.classes.setdefault(segment.category_id, ClassCount())
            row.pixels += area
            row.segments += 1
            if self.isthing.get(segment.category_id, False):
                if segment.iscrowd:
                    row.crowd_regions += 1
                else:
                    row.instances += 1
            if segment.category_id not in seen:
                seen.add(segment.category_id)
                row.images += 1

    def as_rows(self, names: Mapping[int, str]) -> list[dict[str, Any]]:
        labelled = self.pixels - self.void_pixels
        instances = sum(c.instances for c in self.classes.values())
        rows = []
        for category_id in sorted(set(names) | set(self.classes)):
            row = self.classes.get(category_id, ClassCount())
            isthing = self.isthing.get(category_id, False)
            rows.append(
                {
                    "category_id": category_id,
                    "name": names.get(category_id, str(category_id)),
                    "isthing": isthing,
                    "pixels": row.pixels,
                    "pixel_share": row.pixels / labelled if labelled else None,
                    "instances": row.instances if isthing else None,
                    "instance_share": (row.instances / instances if instances else None) if isthing else None,
                    "crowd_regions": row.crowd_regions if isthing else None,
                    "segments": row.segments,
                    "images": row.images,
                }
            )
        return rows


# --- the report document --------------------------------------------------------------------------------


def qa_report_document(
    *,
    header: Mapping[str, Any],
    distribution: Distribution,
    names: Mapping[int, str],
    quality: Mapping[str, Any],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """The JSON report (also the input of the HTML page)."""
    labelled = distribution.pixels - distribution.void_pixels
    return {
        **header,
        "images": distribution.images,
        "pixels": {
            "total": distribution.pixels,
            "labelled": labelled,
            "void": distribution.void_pixels,
            "coverage": labelled / distribution.pixels if distribution.pixels else None,
        },
        "class_distribution": distribution.as_rows(names),
        "thresholds": dict(thresholds),
        "quality_scope": (
            "Measurements of the annotators' submissions on the released images: against the "
            "gold reference where one exists, and between annotators where an image was "
            "labelled twice. Images delivered from their gold reference are the QA lead's own "
            "labelling."
        ),
        "quality": dict(quality),
    }


# --- HTML ---------------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def generic_html(value: Any, *, names: Mapping[str, str] | None = None) -> str:
    """Any JSON value as escaped HTML: scalars, lists, a table for a dict of like dicts, a
    two-column table for other dicts. Category-id keys are shown with their names."""
    names = names or {}

    def key_label(key: Any) -> str:
        text = str(key)
        return escape(f"{names[text]} ({text})" if text in names else text)

    if _is_scalar(value):
        return _number(value)
    if isinstance(value, list):
        if not value:
            return "–"
        if all(_is_scalar(v) for v in value):
            return escape(", ".join(_number(v) for v in value))
        return "<ol>" + "".join(f"<li>{generic_html(v, names=names)}</li>" for v in value) + "</ol>"
    if isinstance(value, dict):
        if not value:
            return "–"
        rows = list(value.values())
        if all(isinstance(r, dict) and r and all(_is_scalar(v) for v in r.values()) for r in rows):
            columns: list[str] = []
            for row in rows:
                columns += [c for c in row if c not in columns]
            head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
            body = "".join(
                f"<tr><th>{key_label(k)}</th>"
                + "".join(f"<td>{_number(r.get(c))}</td>" for c in columns)
                + "</tr>"
                for k, r in value.items()
            )
            return (
                f'<table class="figures"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'
            )
        body = "".join(
            f"<tr><th>{key_label(k)}</th><td>{generic_html(v, names=names)}</td></tr>"
            for k, v in value.items()
        )
        return f'<table class="figures"><tbody>{body}</tbody></table>'
    return escape(str(value))


def share_bars(rows: Sequence[tuple[str, float | None, str]], *, title: str) -> str:
    """Neutral horizontal bars of shares in [0, 1], each labelled with its own text."""
    return plots.bar_chart(
        [(label, share) for label, share, _ in rows],
        title=title,
        texts=[text for _, _, text in rows],
        fill="#2f6fed",
    )


_PER_CLASS = (
    ("class_iou", "IoU"),
    ("boundary_iou", "Boundary IoU"),
    ("boundary_drift", "Boundary drift (px)"),
)
_HEADLINE = (("images", "Images measured"), ("miou", "mIoU"), ("mean_boundary_iou", "Mean boundary IoU"))
_SHOWN = {
    "images",
    "miou",
    "mean_boundary_iou",
    "class_iou",
    "boundary_iou",
    "boundary_drift",
    "pq",
    "pq_per_class",
    "mask_ap",
}


def _figures_section(
    key: str, title: str, figures: Mapping[str, Any], names: Mapping[str, str], threshold: float | None
) -> dict[str, Any]:
    """A gold or agreement block: headline numbers, per-class table, IoU chart, and the rest."""
    headline = [(label, _number(figures.get(k))) for k, label in _HEADLINE if k in figures]
    pq = figures.get("pq")
    if isinstance(pq, dict):
        for group in ("all", "things", "stuff"):
            if isinstance(pq.get(group), dict):
                headline.append((f"PQ {group}", _number(pq[group].get("pq"))))
    ap = figures.get("mask_ap")
    if isinstance(ap, dict):
        headline += [(f"Mask {k.upper()}", _number(ap.get(k))) for k in ("ap", "ap50", "ap75") if k in ap]
    per_class = {k: figures.get(k) for k, _ in _PER_CLASS if isinstance(figures.get(k), dict)}
    pq_per_class = figures.get("pq_per_class") if isinstance(figures.get("pq_per_class"), dict) else {}
    ap_per_class = (
        ap.get("per_class") if isinstance(ap, dict) and isinstance(ap.get("per_class"), dict) else {}
    )
    ids = sorted(
        {i for values in per_class.values() if values for i in values} | set(pq_per_class or {}), key=_id_key
    )
    columns = [label for k, label in _PER_CLASS if k in per_class] + ["PQ", "Mask AP"]
    rows = []
    for i in ids:
        cells = [_number((per_class[k] or {}).get(i)) for k, _ in _PER_CLASS if k in per_class]
        pqc = (pq_per_class or {}).get(i)
        cells.append(_number(pqc.get("pq") if isinstance(pqc, dict) else None))
        cells.append(_number((ap_per_class or {}).get(i)))
        flag = False
        iou = (per_class.get("class_iou") or {}).get(i)
        if threshold is not None and isinstance(iou, int | float) and iou < threshold:
            flag = True
        rows.append({"name": names.get(i, i), "id": i, "cells": cells, "below": flag})
    chart = ""
    if isinstance(figures.get("class_iou"), dict):
        chart = plots.bar_chart(
            [(names.get(i, i), figures["class_iou"].get(i)) for i in ids],
            threshold=threshold,
            title=f"{title}: per-class IoU",
        )
    rest = {k: v for k, v in figures.items() if k not in _SHOWN}
    return {
        "key": key,
        "title": title,
        "headline": headline,
        "columns": columns,
        "rows": rows,
        "chart": mark_safe(chart),  # labels escaped by plots.bar_chart
        "rest": mark_safe(generic_html(rest, names=names)) if rest else "",
        "threshold": threshold,
    }


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 30, value)


_OTHER_TITLES = {"sampling": "Sampled coverage (stratified QA sampling)"}


def qa_report_html(report: Mapping[str, Any]) -> str:
    """The report as a standalone HTML page (inline CSS, inline SVG, nothing fetched)."""
    names = {str(row["category_id"]): row["name"] for row in report["class_distribution"]}
    distribution = report["class_distribution"]
    pixel_chart = share_bars(
        [
            (row["name"], row["pixel_share"], f"{row['pixels']} px ({_number(row['pixel_share'])})")
            for row in distribution
        ],
        title="Class distribution: share of labelled pixels",
    )
    things = [row for row in distribution if row["isthing"]]
    most = max((row["instances"] or 0 for row in things), default=0)
    instance_chart = share_bars(
        [
            (row["name"], (row["instances"] or 0) / most if most else None, str(row["instances"]))
            for row in things
        ],
        title="Class distribution: instances per thing class",
    )
    thresholds = report.get("thresholds", {})
    quality = report.get("quality") or {}
    sections = []
    other = []
    measured_with = {key: quality[key] for key in ("engine_version", "boundary_ratio") if key in quality}
    for key, value in quality.items():
        if key in measured_with:
            continue
        if key in ("gold", "agreement"):
            title = "Against gold" if key == "gold" else "Agreement between annotators"
            threshold = thresholds.get("batch_iou_floor" if key == "gold" else "batch_agreement_floor")
            if isinstance(value, dict):
                sections.append(_figures_section(key, title, value, names, threshold))
            else:
                sections.append({"key": key, "title": title, "missing": True})
        else:
            title = _OTHER_TITLES.get(key, key.replace("_", " ").capitalize())
            html = "" if value is None else mark_safe(generic_html(value, names=names))
            other.append({"key": key, "title": title, "missing": value is None, "html": html})
    return render_to_string(
        "deliveries/qa_report.html",
        {
            "report": report,
            "pixel_chart": mark_safe(pixel_chart),  # labels escaped in share_bars
            "instance_chart": mark_safe(instance_chart) if things else "",
            "sections": sections,
            "other": other,
            "measured_with": measured_with,
            "created": str(report.get("created_at", ""))[:16].replace("T", " "),
        },
    )
