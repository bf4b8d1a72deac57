"""Query filters of the Neptun dialect's lists (django-filter).

Dates are ISO 8601 (``2026-11-25T18:00:00Z``; without an offset they are UTC).
``created_after`` is inclusive and ``created_before`` exclusive, so consecutive
windows never count a row twice. An invalid value is the dialect's 400
``Invalid query(<names>)`` — never an ignored filter that widens a list.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

from chats.models import Chat, ConversationType, Message
from neptun.api.common import UtcIsoDateTimeFilter
from neptun.exceptions import InvalidInput
from projects.models import Project

#: ``?conversation_type=null`` asks for chats without a type.
NULL_TYPE = "null"


class FilterBackend(DjangoFilterBackend):
    """``DjangoFilterBackend`` whose validation error is the dialect's 400."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            errors = {name: list(messages) for name, messages in filterset.errors.items()}
            raise InvalidInput(f"Invalid query({', '.join(errors)})", errors=errors)
        return filterset.qs


class CreatedFilterSet(django_filters.FilterSet):
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


class ChatFilter(CreatedFilterSet):
    title = django_filters.CharFilter(field_name="title", lookup_expr="icontains")
    conversation_type = django_filters.ChoiceFilter(
        field_name="conversation_type",
        choices=ConversationType.choices,
        null_value=NULL_TYPE,
        null_label="No type (null)",
    )

    class Meta:
        model = Chat
        fields = ["title", "conversation_type", "created_after", "created_before"]


class MessageFilter(CreatedFilterSet):
    role = django_filters.ChoiceFilter(field_name="role", choices=Message.Role.choices)
    content = django_filters.CharFilter(field_name="content", lookup_expr="icontains")

    class Meta:
        model = Message
        fields = ["role", "content", "created_after", "created_before"]


class ProjectFilter(CreatedFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Project
        fields = ["name", "created_after", "created_before"]
