"""API views of the platform itself: signing in for a token."""

from __future__ import annotations

from typing import Any

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from core.signin import client_address, signin_wait_seconds


class TokenObtainApi(ObtainAuthToken):
    """``POST {username, password}`` → ``{token}``; 429 with Retry-After after too many failures."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = str(request.data.get("username", ""))
        wait = signin_wait_seconds(username=username, address=client_address(request))
        if wait is not None:
            # DRF adds "Expected available in N seconds." and the Retry-After header.
            raise Throttled(wait=wait, detail="Too many failed sign-ins for this account from your address.")
        return super().post(request, *args, **kwargs)
