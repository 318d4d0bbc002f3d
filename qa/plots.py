"""Small server-side SVG charts for QA pages and reports: no JavaScript, no CDN.

Every label is escaped; values of ``None`` (undefined metrics) are drawn as gaps with "n/a".
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _colour(value: float) -> str:
    """Red (0) through amber to green (1) for IoU-like values."""
    value = min(max(value, 0.0), 1.0)
    if value < 0.5:
        red, green = 220, int(60 + 300 * value)
    else:
        red, green = int(220 - 360 * (value - 0.5)), 190
    return f"rgb({max(red, 30)},{min(green, 190)},70)"


def bar_chart(
    rows: Sequence[tuple[str, float | None]],
    *,
    threshold: float | None = None,
    title: str = "",
    maximum: float = 1.0,
    texts: Sequence[str] | None = None,
    fill: str | None = None,
    floors: Sequence[float | None] | None = None,
) -> str:
    """Horizontal bars, one per row, with an optional dashed threshold line. ``texts`` label
    the bars instead of their values; ``fill`` is one neutral colour instead of red to green.
    ``floors`` gives a row its own threshold (a per-class override): the bar is judged by it
    and a short solid mark (class ``floor``) shows it on the row."""
    label_width, bar_width, row_height = 130, 320, 18
    height = 28 + row_height * len(rows) + 18
    width = label_width + bar_width + (120 if texts is not None else 60)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" {FONT} font-weight="600">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(rows):
        y = 24 + index * row_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" {FONT}>{escape(label)}</text>'
        )
        if value is None:
            parts.append(f'<text x="{label_width + 4}" y="{y + 12}" {FONT} fill="#888">n/a</text>')
            continue
        own = floors[index] if floors is not None and floors[index] is not None else threshold
        length = bar_width * min(max(value / maximum, 0.0), 1.0)
        colour = fill or (_colour(value / maximum) if own is None or value >= own else "rgb(220,60,70)")
        parts.append(
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row_height - 5}" fill="{colour}"/>'
        )
        text = escape(texts[index]) if texts is not None else f"{value:.3f}"
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" {FONT}>{text}</text>')
    for index, floor in enumerate(floors or ()):
        if floor is None or floor == threshold:
            continue
        x = label_width + bar_width * min(max(floor / maximum, 0.0), 1.0)
        y = 24 + index * row_height
        parts.append(
            f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + row_height - 1}" stroke="#111" '
            f'stroke-width="2" class="floor"/>'
        )
    if threshold is not None:
        x = label_width + bar_width * min(max(threshold / maximum, 0.0), 1.0)
        bottom = 24 + row_height * len(rows)
        parts.append(
            f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{bottom}" stroke="#111" stroke-dasharray="4 3" class="threshold"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 13}" text-anchor="middle" {FONT}>threshold {threshold:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str = "",
    threshold: float | Sequence[float | None] | None = None,
) -> str:
    """A matrix of coloured cells with their values (e.g. annotator × class IoU); cells under
    ``threshold`` (one for all, or one per column) get a dark outline."""
    cell_w, cell_h, left, top = 46, 22, 110, 90
    width = left + cell_w * len(column_labels) + 10
    height = top + cell_h * len(row_labels) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" {FONT} font-weight="600">{escape(title)}</text>',
    ]
    for column, label in enumerate(column_labels):
        x = left + column * cell_w + cell_w / 2
        parts.append(
            f'<text transform="translate({x:.1f},{top - 6}) rotate(-50)" {FONT}>{escape(label)}</text>'
        )
    for row, label in enumerate(row_labels):
        y = top + row * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" {FONT}>{escape(label)}</text>')
        for column, value in enumerate(values[row]):
            x = left + column * cell_w
            if value is None:
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="#eee"/>'
                )
                continue
            limit = (
                threshold if threshold is None or isinstance(threshold, int | float) else threshold[column]
            )
            low = limit is not None and value < limit
            stroke = ' stroke="#111" stroke-width="2"' if low else ""
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{_colour(value)}"{stroke}/>'
            )
            parts.append(
                f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + 15}" text-anchor="middle" {FONT} fill="#fff">{value:.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str = "",
    threshold: float | None = None,
) -> str:
    """Lines over ordered categories (e.g. agreement over batches); gaps where a value is None."""
    left, top, plot_w, plot_h = 40, 28, max(120, 60 * len(labels)), 160
    width, height = left + plot_w + 130, top + plot_h + 40
    colours = ["#2f6fed", "#e4572e", "#17a398", "#8f2d56"]
    step = plot_w / max(len(labels) - 1, 1)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0.0), 1.0))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" {FONT} font-weight="600">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{left - 4}" y="{y_of(tick) + 4:.1f}" text-anchor="end" {FONT}>{tick:.1f}</text>'
        )
    for index, label in enumerate(labels):
        parts.append(
            f'<text x="{left + index * step:.1f}" y="{top + plot_h + 14}" text-anchor="middle" {FONT}>{escape(label)}</text>'
        )
    if threshold is not None:
        parts.append(
            f'<line x1="{left}" y1="{y_of(threshold):.1f}" x2="{left + plot_w}" y2="{y_of(threshold):.1f}" '
            'stroke="#111" stroke-dasharray="4 3" class="threshold"/>'
        )
    for number, (name, values) in enumerate(series.items()):
        colour = colours[number % len(colours)]
        points = [(left + i * step, y_of(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        legend_y = top + 14 * number
        parts.append(
            f'<rect x="{left + plot_w + 12}" y="{legend_y}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(f'<text x="{left + plot_w + 26}" y="{legend_y + 9}" {FONT}>{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pinned_comments(
    image_url: str,
    width: int,
    height: int,
    pins: Sequence[tuple[int, float | None, float | None, Sequence[Sequence[float]] | None]],
    *,
    title: str = "",
    shown_width: int = 640,
) -> str:
    """The image with numbered comment pins: ``(number, x, y, region)`` per pin, a point at
    (x, y) or a region polygon, in image pixels (the SVG's coordinates are the image's)."""
    shown = min(shown_width, width)
    radius = max(width, height) / 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart pins" width="{shown}" '
        f'height="{shown * height / width:.0f}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<image href="{escape(image_url)}" x="0" y="0" width="{width}" height="{height}"/>',
    ]
    for number, x, y, region in pins:
        if region:
            points = " ".join(f"{px:g},{py:g}" for px, py in region)
            parts.append(
                f'<polygon points="{points}" fill="rgba(255,200,0,0.25)" stroke="#ffb000" '
                f'stroke-width="{radius / 4:.2f}" data-pin="{number}"/>'
            )
            x, y = region[0][0], region[0][1]
        elif x is None or y is None:
            continue
        else:
            parts.append(
                f'<circle cx="{x:g}" cy="{y:g}" r="{radius:.2f}" fill="#ffb000" stroke="#111" '
                f'stroke-width="{radius / 5:.2f}" data-pin="{number}"/>'
            )
        parts.append(
            f'<text x="{x:g}" y="{y:g}" dy="{radius * 0.4:.2f}" text-anchor="middle" '
            f'font-family="system-ui, sans-serif" font-size="{radius * 1.2:.2f}" fill="#111">{number}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
