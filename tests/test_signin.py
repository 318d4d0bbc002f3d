"""Sign-in throttling: a few failed sign-ins of one account from one address → 429 (API) or
refused (login page), right password or not, until the window has passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import SignInFailure

PASSWORD = "right-pass-1"


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def token(password: str, *, username: str = "alice", address: str = "10.0.0.1") -> Any:
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_failed_sign_ins_up_to_the_limit_are_400_then_429_even_with_the_right_password(
    user: Any, settings: Any
) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 3

    failures = [token("wrong").status_code for _ in range(3)]
    refused = token(PASSWORD)

    assert failures == [400, 400, 400]
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert 890 <= wait <= 900
    assert refused.json()["detail"] == (
        f"Too many failed sign-ins for this account from your address. Expected available in {wait} seconds."
    )
    assert not Token.objects.exists()


def test_a_refused_attempt_is_not_counted_and_does_not_extend_the_wait(user: Any, settings: Any) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 2
    token("wrong")
    token("wrong")

    assert token("wrong").status_code == 429
    assert SignInFailure.objects.count() == 2


def test_a_success_clears_the_count(user: Any, settings: Any) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 3
    token("wrong")
    token("wrong")

    assert token(PASSWORD).status_code == 200
    assert [token("wrong").status_code for _ in range(2)] == [400, 400]
    assert token(PASSWORD).status_code == 200


def test_other_addresses_and_other_accounts_are_not_held_up(user: Any, settings: Any) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 2
    get_user_model().objects.create_user("bob", password=PASSWORD)
    token("wrong")
    token("wrong")

    assert token(PASSWORD).status_code == 429
    assert token(PASSWORD, address="10.0.0.2").status_code == 200
    assert token(PASSWORD, username="bob").status_code == 200


def test_the_account_is_free_again_once_the_failures_leave_the_window(user: Any, settings: Any) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 2
    token("wrong")
    token("wrong")
    assert token(PASSWORD).status_code == 429

    SignInFailure.objects.update(
        at=timezone.now() - timedelta(seconds=settings.TESSERA_SIGNIN_WINDOW_SECONDS + 1)
    )

    assert token(PASSWORD).status_code == 200


def test_the_login_page_refuses_the_right_password_while_held_up(user: Any, settings: Any) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 2
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    held = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert held.status_code == 200  # the form again, not a redirect into the app
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-ins for this account from your address" in held.content.decode()
    assert (
        Client(REMOTE_ADDR="10.0.0.10")
        .post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        .status_code
        == 302
    )


def test_old_failures_are_removed_as_new_ones_are_recorded(user: Any, settings: Any) -> None:
    old = SignInFailure.objects.create(
        username="someone", address="10.9.9.9", at=timezone.now() - timedelta(days=2)
    )

    token("wrong")

    assert not SignInFailure.objects.filter(id=old.id).exists()
    assert list(SignInFailure.objects.values_list("username", "address")) == [("alice", "10.0.0.1")]


def test_every_password_sign_in_goes_through_the_throttle_with_default_limits() -> None:
    import os

    from django.conf import settings

    assert settings.AUTHENTICATION_BACKENDS == ["core.signin.ThrottledModelBackend"]
    if "TESSERA_SIGNIN_MAX_FAILURES" not in os.environ:
        assert settings.TESSERA_SIGNIN_MAX_FAILURES == 5
    if "TESSERA_SIGNIN_WINDOW_SECONDS" not in os.environ:
        assert settings.TESSERA_SIGNIN_WINDOW_SECONDS == 900


def test_an_operator_unlocks_an_account_by_deleting_its_failures_in_the_admin(
    user: Any, settings: Any
) -> None:
    settings.TESSERA_SIGNIN_MAX_FAILURES = 2
    token("wrong")
    token("wrong")
    assert token(PASSWORD).status_code == 429
    operator = get_user_model().objects.create_superuser("op", "op@example.com", "op-pass-1")
    admin = Client()
    admin.force_login(operator)

    listed = admin.get("/admin/core/signinfailure/?q=alice")
    ids = [str(i) for i in SignInFailure.objects.values_list("id", flat=True)]
    deleted = admin.post(
        "/admin/core/signinfailure/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )

    assert listed.status_code == 200
    assert b"10.0.0.1" in listed.content
    assert deleted.status_code == 302
    assert not SignInFailure.objects.exists()
    assert token(PASSWORD).status_code == 200
