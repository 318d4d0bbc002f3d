"""Celery entry points of the QA workflow. Jobs take ids and only call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from qa.services import measurement_fail, revision_measure

# Errors worth retrying: the database or storage was briefly unavailable. Bad data is not
# retried: the service records it as a failed measurement instead of raising.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError, OSError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def revision_measure_job(self, revision_id: int) -> None:
    try:
        revision_measure(revision_id=revision_id)
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= self.max_retries:
            measurement_fail(
                revision_id=revision_id, error=f"gave up after {self.request.retries} retries: {error}"
            )
        raise
