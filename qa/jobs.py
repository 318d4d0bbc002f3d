"""Celery entry points of the QA workflow. Jobs take ids and only call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from qa.services import measurement_give_up, measurement_note_retry, revision_measure

# Errors worth retrying: the database connection or storage was briefly unavailable. Other
# database errors (DataError, IntegrityError, ProgrammingError) are bugs or bad data that a
# retry would only repeat; bad revision data never reaches here (the service records it).
# Missing blobs surface as BadRevisionData, not as FileNotFoundError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError)
MAX_RETRIES = 6


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def revision_measure_job(self: Any, revision_id: int) -> None:
    attempt = self.request.retries + 1
    try:
        revision_measure(revision_id=revision_id)
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= MAX_RETRIES:
            measurement_give_up(
                revision_id=revision_id,
                error=f"gave up after {attempt} attempts; last error: {type(error).__name__}: {error}",
            )
        else:
            measurement_note_retry(
                revision_id=revision_id, attempt=attempt, error=f"{type(error).__name__}: {error}"
            )
        raise
    except Exception as error:
        # Not transient: record it as a failed measurement (routed to review) instead of
        # leaving the row pending, and re-raise so the worker logs the traceback.
        measurement_give_up(
            revision_id=revision_id, error=f"internal error while measuring: {type(error).__name__}: {error}"
        )
        raise
