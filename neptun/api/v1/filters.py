"""Filters of ``GET /api/v1/chats``."""

from __future__ import annotations

import django_filters as filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from chats.models import Chat, ConversationType
from neptun.api.common import IdFilter, UtcIsoDateTimeFilter
from neptun.api.v1.errors import _flatten
from neptun.exceptions import InvalidInput

NULL_TYPE = "null"


class ChatFilter(filters.FilterSet):
    """``?user=&user_email=&conversation_type=&project=&created_after=&created_before=&title=``.

    ``conversation_type=null`` selects chats without a type. Dates are ISO 8601;
    ``created_after`` is inclusive, ``created_before`` exclusive.
    """

    user = IdFilter(field_name="owner_id")
    user_email = filters.CharFilter(field_name="owner__email", lookup_expr="iexact")
    conversation_type = filters.ChoiceFilter(
        choices=[*ConversationType.choices, (NULL_TYPE, "No type")],
        method="filter_conversation_type",
    )
    project = IdFilter(field_name="project_links__project_id", distinct=True)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    title = filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Chat
        fields: list[str] = []

    def filter_conversation_type(self, queryset: QuerySet[Chat], name: str, value: str):
        if value == NULL_TYPE:
            return queryset.filter(conversation_type__isnull=True)
        return queryset.filter(conversation_type=value)


class QueryFilterBackend(DjangoFilterBackend):
    """django-filter, with an invalid query parameter the 400
    ``{"detail": "Invalid query: created_before: Enter a valid date/time.", "errors": …}``
    (a DRF ``ValidationError`` would read "Invalid body: …")."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            errors = {name: list(messages) for name, messages in filterset.errors.items()}
            raise InvalidInput("Invalid query: " + "; ".join(_flatten(errors)), errors=errors)
        return filterset.qs
