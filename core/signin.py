"""Sign-in throttling: a username that fails to sign in from one address too often within a
window is refused there, right password or not, until the window has passed.

Only failures count (a team signing in all day never hits the limit), and they are counted
in the database so every web process sees the same figure. Keyed by username and address:
a lockout by username alone would let anyone lock any user out. The address is the one the
web server saw (REMOTE_ADDR); behind a proxy, have it pass the client's address there.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from core.models import SignInFailure


def client_address(request: Any) -> str:
    meta = getattr(request, "META", None) or {}
    return str(meta.get("REMOTE_ADDR") or "unknown")[:45]


def _window() -> timedelta:
    return timedelta(seconds=settings.TESSERA_SIGNIN_WINDOW_SECONDS)


def signin_wait_seconds(*, username: str, address: str) -> int | None:
    """Seconds until ``username`` may try again from ``address``; None when it may now."""
    limit: int = settings.TESSERA_SIGNIN_MAX_FAILURES
    recent = list(
        SignInFailure.objects.filter(
            username=username[:150], address=address, at__gte=timezone.now() - _window()
        )
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    # Free again once the oldest of the last `limit` failures leaves the window.
    free_at = recent[-1] + _window()
    return max(1, math.ceil((free_at - timezone.now()).total_seconds()))


def signin_failure_record(*, username: str, address: str) -> None:
    now = timezone.now()
    SignInFailure.objects.filter(at__lt=now - _window()).delete()  # nothing older is ever read
    SignInFailure.objects.create(username=username[:150], address=address, at=now)


def signin_failures_clear(*, username: str, address: str) -> None:
    SignInFailure.objects.filter(username=username[:150], address=address).delete()


class ThrottledModelBackend(ModelBackend):
    """Django's username/password backend behind the throttle, so every way of signing in
    (the login page, the admin, the API token, DRF's session login) counts and is refused."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        if signin_wait_seconds(username=username, address=address) is not None:
            raise PermissionDenied("too many failed sign-ins")  # stops every other backend too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            signin_failure_record(username=username, address=address)
        else:
            signin_failures_clear(username=username, address=address)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # Django's own async path would skip the throttle; run the one above instead.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)
