"""The admin site: Django's, with its login throttled per client address.

``POST /admin/login/`` is counted per client address
(:func:`neptun.client_address.client_address`, the same address the API's login
throttle uses) at ``ADMIN_LOGIN_THROTTLE_RATE`` (by default the API login's rate,
``LOGIN_THROTTLE_RATE``). Every attempt counts, right or wrong, as for the API
login. Past the rate, the login page is shown again with status 429, a
``Retry-After`` header and the error in the form's usual place; the password is
not even checked, so the right one is refused too until the window passes.
Showing the page (GET) is not counted.

Installed through :class:`neptun.apps.NeptunAdminConfig` (``default_site``), so
``admin.site`` and every ``@admin.register`` are this site.
"""

from __future__ import annotations

import math
from typing import cast

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest

from neptun.throttling import AdminLoginThrottle

THROTTLED = "throttled"


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form; an attempt past the rate fails before the password
    is checked."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        THROTTLED: "Too many login attempts from your address. "
        "Please try again in %(seconds)s seconds.",
    }

    retry_after: int | None = None

    def clean(self):
        throttle = AdminLoginThrottle()
        # The admin's login view always gives the form its request.
        if not throttle.allow_request(cast(HttpRequest, self.request), None):
            self.retry_after = max(1, math.ceil(throttle.wait() or 1))
            raise ValidationError(
                self.error_messages[THROTTLED],
                code=THROTTLED,
                params={"seconds": self.retry_after},
            )
        return super().clean()


class NeptunAdminSite(admin.AdminSite):
    login_form = ThrottledAdminAuthenticationForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if isinstance(form, ThrottledAdminAuthenticationForm) and form.has_error(
            NON_FIELD_ERRORS, THROTTLED
        ):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
