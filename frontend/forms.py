"""Forms of the pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from core.signin import client_address, signin_wait_seconds


class SignInForm(AuthenticationForm):
    """Django's sign-in form, saying so when the throttle holds the account up from this
    address (otherwise the page would claim the right password is wrong)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password did not match. Please try again.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username:
            wait = signin_wait_seconds(username=username, address=client_address(self.request))
            if wait is not None:
                minutes = max(1, -(-wait // 60))
                raise forms.ValidationError(
                    f"Too many failed sign-ins for this account from your address. "
                    f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                    code="throttled",
                )
        return super().clean()
