"""Submission → QualityReport latency through a real Redis broker and Celery worker.

    python bench/bench_pipeline.py [--submissions 60] [--interval 0.5] [--concurrency 2]

Needs PostgreSQL and Redis (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432;
``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/14). It creates a scratch database, a
project with 2048×1024 street scenes and their gold, starts a worker, then submits revisions
(each a perturbed copy of its gold) through the same service the API uses, one every
``--interval`` seconds. Latency = when the worker stored the measurement − when the submission
was committed (both database timestamps). The engine's in-process time for the same pair is
printed as the reference measured in this run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between submissions")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1024)
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    database = f"tessera_bench_{uuid.uuid4().hex[:8]}"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    var_dir = ROOT / "var" / "bench-pipeline" / database
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{database}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "TESSERA_CELERY_QUEUE": queue,
        "TESSERA_VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)

    import psycopg2

    admin = psycopg2.connect(f"{server}/postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    worker = None
    try:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                f"--concurrency={args.concurrency}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{queue}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return run(args, queue)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def run(args: argparse.Namespace, queue: str) -> int:
    import numpy as np
    from django.contrib.auth import get_user_model
    from PIL import Image as PILImage

    from annotation.masks import encode_index_map
    from annotation.services import SegmentIn
    from config.celery import app
    from core.roles import Role
    from projects.demo.scenes import street_scene
    from projects.models import Project, Task
    from projects.services import images_add, membership_add, project_create, taxonomy_parse
    from qa.metrics import CategoryInfo, LabelledMap, Segment, measure_pair
    from qa.models import QualityReport, RevisionMeasurement
    from qa.services import gold_set, revision_save

    app.conf.task_default_queue = queue
    taxonomy = taxonomy_parse(json.loads((ROOT / "projects/demo/cityscapes_taxonomy.json").read_text()))
    project = project_create(slug="bench", name="bench", mode=Project.Mode.PANOPTIC, taxonomy=taxonomy)
    Project.objects.filter(id=project.id).update(overlap_share=0.0, gold_share=0.0)
    users = get_user_model()
    lead = users.objects.create_user("lead", password="bench-pass-1")
    annotator = users.objects.create_user("annotator", password="bench-pass-1")
    membership_add(project=project, user=lead, role=Role.QA_LEAD)
    membership_add(project=project, user=annotator, role=Role.ANNOTATOR)

    pairs = []
    print(f"preparing {args.submissions} scenes of {args.width}x{args.height} ...", flush=True)
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((args.height, args.width, 3), np.uint8)).save(buffer, format="PNG")
    blank = buffer.getvalue()
    images_add(project=project, files=[(f"s{i}.png", blank) for i in range(args.submissions)], batch_name="b")
    for index, image in enumerate(project.images.order_by("id")):
        scene = street_scene(index, width=args.width, height=args.height, instances=40)
        segments = [SegmentIn(id=s.id, category_id=s.category_id) for s in scene.segments]
        gold_set(image=image, author=lead, index_map=scene.index_map, segments=segments)
        # The submission: every thing segment drawn 3 px wider (boundary perturbation).
        submitted = scene.index_map.copy()
        things = {s.id for s in scene.segments if s.category_id in {12, 14, 19}}
        for segment_id in things:
            mask = scene.index_map == segment_id
            grown = mask.copy()
            for _ in range(3):
                grown[1:, :] |= grown[:-1, :]
                grown[:-1, :] |= grown[1:, :]
                grown[:, 1:] |= grown[:, :-1]
                grown[:, :-1] |= grown[:, 1:]
            submitted[grown & ~mask & ~np.isin(scene.index_map, list(things))] = segment_id
        pairs.append((image, scene, segments, submitted))

    categories = [CategoryInfo(c.id, c.isthing) for c in taxonomy.categories]
    engine_ms = []
    for _, scene, _, submitted in pairs[: min(10, len(pairs))]:
        table = tuple(Segment(s.id, s.category_id) for s in scene.segments)
        start = time.perf_counter()
        measure_pair(
            LabelledMap(scene.index_map, table),
            LabelledMap(submitted, table),
            categories=categories,
            drift=True,
        )
        engine_ms.append((time.perf_counter() - start) * 1000)

    time.sleep(1.0)  # let the worker finish booting before the clock matters
    print(f"submitting {len(pairs)} revisions, one every {args.interval} s ...", flush=True)
    call_ms = []
    revision_ids = []
    for image, _, segments, submitted in pairs:
        task = Task.objects.get(image=image, kind=Task.Kind.ANNOTATE)
        Task.objects.filter(id=task.id).update(assignee=annotator)
        task.refresh_from_db()
        png = encode_index_map(submitted)
        raw = [{"id": s.id, "category_id": s.category_id} for s in segments]
        start = time.perf_counter()
        revision = revision_save(
            task=task, author=annotator, png=png, segments_raw=raw, parent_number=None, submit=True
        )
        call_ms.append((time.perf_counter() - start) * 1000)
        revision_ids.append(revision.id)
        time.sleep(args.interval)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = (
            RevisionMeasurement.objects.filter(revision_id__in=revision_ids).exclude(status="pending").count()
        )
        if done == len(revision_ids):
            break
        time.sleep(0.2)
    measurements = {
        m.revision_id: m
        for m in RevisionMeasurement.objects.filter(revision_id__in=revision_ids).select_related("revision")
    }
    failed = [m for m in measurements.values() if m.status != "done"]
    latencies = [
        (m.finished_at - m.revision.submitted_at).total_seconds() * 1000
        for m in measurements.values()
        if m.status == "done" and m.finished_at and m.revision.submitted_at
    ]
    reports = QualityReport.objects.filter(revision_id__in=revision_ids).count()
    print()
    print(
        f"pairs: {len(revision_ids)} at {args.width}x{args.height}, worker concurrency {args.concurrency}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"measured: {len(latencies)}, failed or unfinished: {len(failed)}, quality reports stored: {reports}"
    )
    if latencies:
        print(
            f"submission committed -> report stored: p50 {statistics.median(latencies):7.1f} ms   "
            f"p95 {percentile(latencies, 95):7.1f} ms   max {max(latencies):7.1f} ms   (target p95 <= 1000 ms)"
        )
    print(
        f"service call (decode, validate, store, commit): p50 {statistics.median(call_ms):7.1f} ms   "
        f"p95 {percentile(call_ms, 95):7.1f} ms"
    )
    print(
        f"reference, engine alone in-process (same pairs, drift on): median {statistics.median(engine_ms):7.1f} ms"
    )
    if latencies:
        print(
            f"ratio pipeline p50 / engine alone: {statistics.median(latencies) / statistics.median(engine_ms):.1f}x"
        )
    return 0 if latencies and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
