"""Export throughput and memory of the delivery formats, alone and as a release builds them.

    python bench/bench_export.py                 # 1,000 images per format, and 250 for memory
    python bench/bench_export.py --images 100    # quick run
    python bench/bench_export.py --formats coco voc --no-datumaro --no-release

Synthetic 1024x768 panoptic maps (stuff bands with wavy borders, ~30 thing instances with rings,
multi-part objects, a crowd and some void), generated deterministically. A pool of 16 maps is
generated *before* the clock starts and the exporter is fed a stream that cycles through it
(each image a fresh stem and a loader returning its pool map), so the format rows time the
exporters' work only: statistics, encoding, compression, JSON and file writes. No source
images are copied.

The release rows time what a release build does instead: every image's map is decoded from a
stored index-map PNG (written before the clock with ``annotation.masks.encode_index_map``, the
storage encoding) and written in all the timed formats. "release, one pass" is how releases
build (``export_formats``: one decode and one analysis per image for every format);
"release, per format" is the former way (one export per format, each decoding every map, plus
one more decode per image for the class counts), for comparison.

Each row runs in its own subprocesses: once with N images for the timings (images/s of wall
time, and images/s per core = images / CPU seconds of that process; the code is single-threaded),
and twice with ``tracemalloc`` on, with N/4 and with N images, for memory. "peak" is the
highest memory the export allocated at any moment (Python objects and NumPy arrays, counted
from the start of the export, so neither the pool nor the interpreter is in it, and memory
freed earlier cannot hide a growth as it does in RSS). Equal peaks for N/4 and N images show
that memory is flat in the number of images (streamed, never the whole dataset in RAM); the
last column says so. The timed run also reports its RSS growth during the export (JSON output
only). With the clients' venv present (``.venv-clients``), Datumaro 1.13 exports a small subset
of the same maps to the same formats as a reference.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotation.masks import decode_index_map, encode_index_map  # noqa: E402
from deliveries.formats import (  # noqa: E402
    FORMATS,
    ExportCategory,
    ExportImage,
    ExportSegment,
    Taxonomy,
    export_formats,
)

H, W = 768, 1024
POOL = 16
DEFAULT_FORMATS = ["coco", "coco-panoptic", "cityscapes", "voc"]
EXTRA_FORMATS = ["ade20k", "png", "yolo", "coco+polygons"]
DATUMARO_FORMATS = {
    "coco": "coco_instances",
    "coco-panoptic": "coco_panoptic",
    "cityscapes": "cityscapes",
    "voc": "voc_segmentation",
}

TAXONOMY = Taxonomy(
    (
        ExportCategory(1, "road", "#804080", False, {"cityscapes": 7}),
        ExportCategory(2, "building", "#464646", False, {"cityscapes": 11}),
        ExportCategory(3, "sky", "#4682b4", False, {"cityscapes": 23}),
        ExportCategory(4, "vegetation", "#6b8e23", False, {"cityscapes": 21}),
        ExportCategory(5, "person", "#dc143c", True, {"cityscapes": 24}),
        ExportCategory(6, "car", "#00008e", True, {"cityscapes": 26}),
        ExportCategory(7, "bicycle", "#770b20", True, {"cityscapes": 33}),
        ExportCategory(8, "bus", "#003c64", True, {"cityscapes": 28}),
    )
)


def synthetic_map(seed: int) -> tuple[np.ndarray, tuple[ExportSegment, ...]]:
    """One 1024x768 panoptic map: 4 stuff classes in wavy bands, ~30 instances, void strips."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    m = np.zeros((H, W), np.uint16)
    wave = (np.sin(xx / rng.uniform(40, 90) + rng.uniform(0, 6)) * rng.uniform(10, 40)).astype(np.int64)
    bands = [3, 2, 4, 1]  # sky, building, vegetation, road from the top
    edges = np.sort(rng.integers(120, 700, 3))
    segs = []
    for k, cat in enumerate(bands):
        top = 0 if k == 0 else edges[k - 1]
        bottom = H if k == 3 else edges[k]
        m[(yy >= top + wave) & (yy < bottom + wave)] = k + 1
        segs.append(ExportSegment(k + 1, cat))
    m[(yy + xx) % 397 < 3] = 0  # thin void lines (unlabelled)
    sid = 100
    for _ in range(30):
        cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
        ry, rx = int(rng.integers(8, 70)), int(rng.integers(8, 90))
        y0, y1, x0, x1 = max(cy - ry, 0), min(cy + ry, H), max(cx - rx, 0), min(cx + rx, W)
        sub_y, sub_x = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        d = ((sub_y - cy) / ry) ** 2 + ((sub_x - cx) / rx) ** 2
        shape = d < 1
        kind = rng.random()
        if kind < 0.15:
            shape &= d > 0.3  # ring (bicycle wheel): a hole
        elif kind < 0.3:
            shape &= np.abs(sub_x - cx) > rx // 6  # two parts (occluded by a pole)
        m[y0:y1, x0:x1][shape] = sid
        segs.append(ExportSegment(sid, int(rng.integers(5, 9)), iscrowd=bool(rng.random() < 0.03)))
        sid += 1
    present = set(np.unique(m).tolist())
    return m, tuple(s for s in segs if s.id in present)


def _same(m: np.ndarray) -> np.ndarray:
    return m


def _decoded(path: Path) -> np.ndarray:
    return decode_index_map(path.read_bytes(), expected_shape=(H, W))


def image_stream(
    pool: list[tuple[Any, Any]], n: int, stored: list[Path] | None = None
) -> Iterator[ExportImage]:
    """``n`` images cycling through the pool; with ``stored``, each map is decoded from its
    stored PNG when the exporter asks for it (as a release reads revisions)."""
    for i in range(n):
        m, segs = pool[i % len(pool)]
        yield ExportImage(
            stem=f"img_{i:06d}",
            width=W,
            height=H,
            index_map=partial(_decoded, stored[i % len(pool)]) if stored else partial(_same, m),
            segments=segs,
            split="train" if i % 5 else "val",
        )


def exporter_for(name: str) -> Any:
    if name == "coco+polygons":
        return FORMATS["coco"].with_options(polygons=True)  # type: ignore[attr-defined]
    return FORMATS[name]


RELEASE_ROWS = ("release, one pass", "release, per format")


def _rss_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _export(row: str, formats: list[str], pool: list[Any], n: int, out: Path, stored: list[Path]) -> int:
    """Run one table row; returns the images exported."""
    if row == "release, one pass":
        targets = {f: (exporter_for(f), out / f) for f in formats}
        summaries = export_formats(image_stream(pool, n, stored), TAXONOMY, targets)
        return next(iter(summaries.values())).images
    if row == "release, per format":
        for image in image_stream(pool, n, stored):  # the class-distribution pass
            image.load_map()
        for f in formats:
            exporter_for(f).export(image_stream(pool, n, stored), TAXONOMY, out / f)
        return n
    return int(exporter_for(row).export(image_stream(pool, n), TAXONOMY, out / "export").images)


def worker(row: str, n: int, tmp_dir: str, formats: list[str], *, trace: bool = False) -> dict[str, Any]:
    pool = [synthetic_map(seed) for seed in range(POOL)]
    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="bench-", dir=tmp_dir))
    stored = []
    if row in RELEASE_ROWS:
        for k, (m, _) in enumerate(pool):
            stored.append(out / f"stored-{k}.png")
            stored[-1].write_bytes(encode_index_map(m))
    try:
        gc.collect()
        exact = _reset_peak()
        rss0 = _rss_kb("VmRSS")
        if trace:
            tracemalloc.start()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        images = _export(row, formats, pool, n, out, stored)
        wall = time.perf_counter() - t0
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        peak = _rss_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        size = sum(
            f.stat().st_size for f in out.rglob("*") if f.is_file() and not f.name.startswith("stored-")
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "row": row,
        "images": images,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": rss0 / 1024,
        "rss_growth_mb": (peak - rss0) / 1024,
        "peak_mb": traced_peak / 2**20,
        "exact_peak": exact,
        "bytes_per_image": size / max(images, 1),
    }


def run_worker(row: str, n: int, tmp_dir: str, formats: list[str], *, trace: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", row, "--images", str(n), "--tmp-dir", tmp_dir]
    command += ["--formats", *formats] + (["--trace"] if trace else [])
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker {row} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def file_create_ms(tmp_dir: str) -> float:
    """What creating one small file costs in ``tmp_dir`` right now (shared disks vary)."""
    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="bench-fs-", dir=tmp_dir))
    try:
        t = time.perf_counter()
        for i in range(200):
            with open(d / f"{i}.png", "xb") as f:
                f.write(b"\0" * 20000)
        return (time.perf_counter() - t) / 200 * 1e3
    finally:
        shutil.rmtree(d, ignore_errors=True)


DATUMARO_SCRIPT = r"""
import json, sys, time, tempfile, shutil, contextlib, os, resource
import datumaro as dm
src, n_fmt = sys.argv[1], json.loads(sys.argv[2])
with open(os.devnull, "w") as dn, contextlib.redirect_stdout(dn), contextlib.redirect_stderr(dn):
    ds = dm.Dataset.import_from(src, "coco_panoptic")
    for item in ds:  # decode every mask once so the export timings exclude our PNG loading
        for a in item.annotations:
            a.image
out = {}
for ours, theirs in n_fmt.items():
    d = tempfile.mkdtemp()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    with open(os.devnull, "w") as dn, contextlib.redirect_stdout(dn), contextlib.redirect_stderr(dn):
        ds.export(d, theirs, save_media=False)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out[ours] = {"wall_s": time.perf_counter() - t,
                 "cpu_s": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime}
    shutil.rmtree(d, ignore_errors=True)
print(json.dumps({"images": len(ds), "datumaro": dm.__version__, "runs": out}))
"""


def datumaro_reference(formats: list[str], n: int) -> dict[str, Any] | None:
    py = Path(os.environ.get("TESSERA_CLIENTS_PYTHON", ROOT / ".venv-clients" / "bin" / "python"))
    if not py.exists():
        return None
    pool = [synthetic_map(seed) for seed in range(POOL)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-dm-"))
    try:
        FORMATS["coco-panoptic"].export(image_stream(pool, n), TAXONOMY, tmp / "src")
        for split in ("train", "val"):  # Datumaro's importer wants the image folders to exist
            (tmp / "src" / "images" / split).mkdir(parents=True, exist_ok=True)
        want = {f: DATUMARO_FORMATS[f] for f in formats if f in DATUMARO_FORMATS}
        proc = subprocess.run(
            [str(py), "-c", DATUMARO_SCRIPT, str(tmp / "src"), json.dumps(want)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"(Datumaro reference failed: {proc.stderr.strip().splitlines()[-1:]})")
            return None
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--formats", nargs="*", default=DEFAULT_FORMATS, help=f"also: {' '.join(EXTRA_FORMATS)}")
    ap.add_argument("--no-datumaro", action="store_true")
    ap.add_argument("--no-release", action="store_true", help="skip the release rows")
    ap.add_argument("--datumaro-images", type=int, default=20)
    ap.add_argument(
        "--tmp-dir",
        default=str(ROOT / "var" / "bench"),
        help="where exports are written and deleted (default var/bench)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.images, args.tmp_dir, args.formats, trace=args.trace)))
        return 0
    n, n_small = args.images, max(args.images // 4, 1)
    load = os.getloadavg()
    print(
        f"{n} synthetic {W}x{H} images per row (pool of {POOL} maps generated before timing); "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; "
        f"creating a file in {args.tmp_dir}: {file_create_ms(args.tmp_dir):.2f} ms"
    )
    print(
        f"{'row':21s} {'img/s':>8s} {'img/s/core':>11s} {'MB/img':>7s} "
        f"{'peak@' + str(n_small):>10s} {'peak@' + str(n):>10s}  memory"
    )
    rows = list(args.formats)
    release_formats = [f for f in args.formats if f in FORMATS]
    if not args.no_release and release_formats:
        rows += list(RELEASE_ROWS)
    results = {}
    for row in rows:
        big = run_worker(row, n, args.tmp_dir, release_formats)
        mem_small = run_worker(row, n_small, args.tmp_dir, release_formats, trace=True)
        mem_big = run_worker(row, n, args.tmp_dir, release_formats, trace=True)
        results[row] = big
        growth = mem_big["peak_mb"] - mem_small["peak_mb"]
        flat = "flat" if growth <= max(1.0, 0.05 * mem_small["peak_mb"]) else f"GROWS {growth:+.1f} MB"
        print(
            f"{row:21s} {big['images'] / big['wall_s']:8.1f} {big['images'] / big['cpu_s']:11.1f} "
            f"{big['bytes_per_image'] / 1e6:7.3f} {mem_small['peak_mb']:9.1f}M {mem_big['peak_mb']:9.1f}M  {flat}"
        )
    if not args.no_release and release_formats:
        print(
            f"release rows: {', '.join(release_formats)} in one archive folder; img/s = images / time for all formats"
        )
    if not args.no_datumaro:
        ref = datumaro_reference(args.formats, args.datumaro_images)
        if ref is None:
            print("Datumaro reference: clients venv not found (.venv-clients), skipped")
        else:
            print(
                f"Datumaro {ref['datumaro']} on {ref['images']} of the same maps (masks pre-decoded, save_media=False):"
            )
            for fmt, r in ref["runs"].items():
                rate = ref["images"] / r["cpu_s"]
                ours = results[fmt]["images"] / results[fmt]["cpu_s"]
                print(
                    f"  {fmt:15s} {ref['images'] / r['wall_s']:8.1f} img/s {rate:8.1f} img/s/core   Tessera x{ours / rate:.0f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
