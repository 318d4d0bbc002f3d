"""Celery entry points of deliveries. Jobs take ids and only call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from deliveries.services import release_build, release_fail

# Worth retrying: the database or storage was briefly unavailable. Bad data is not retried:
# the service records the release as failed with the reason instead of raising.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError, OSError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=4,
)
def release_build_job(self, release_id: int) -> None:
    """Build release ``release_id``; idempotent (a ready release is left as it is)."""
    try:
        release_build(release_id=release_id)
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= self.max_retries:
            release_fail(
                release_id=release_id, error=f"gave up after {self.request.retries} retries: {error}"
            )
        raise
