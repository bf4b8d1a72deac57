"""django-filter sets of the conversations dialect's lists, and a backend that answers
an invalid filter value with the dialect's 422 (``loc: ["query", name]``)."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django_filters.rest_framework import DjangoFilterBackend

from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from neptun.api.common import IdFilter

from .errors import RequestValidationError, error_item

NULL_TYPE = "null"


class ChatFilter(django_filters.FilterSet):
    conversation_type = django_filters.MultipleChoiceFilter(
        choices=[*ConversationType.choices, (NULL_TYPE, "No type (NULL)")],
        method="filter_conversation_type",
        help_text="One or more of regular, user_files, global_collection, null "
        "(repeat the parameter for several).",
    )
    collection = IdFilter(field_name="collection_id")
    title = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Chat
        fields = ["conversation_type", "collection", "title"]

    def filter_conversation_type(self, queryset, name, value):
        if not value:
            return queryset
        types = [v for v in value if v != NULL_TYPE]
        condition = Q(conversation_type__in=types)
        if NULL_TYPE in value:
            condition |= Q(conversation_type__isnull=True)
        return queryset.filter(condition)


class FileFilter(django_filters.FilterSet):
    chat = IdFilter(field_name="chat_id")
    collection = IdFilter(field_name="collection_id")

    class Meta:
        model = File
        fields = ["chat", "collection"]


class CollectionFilter(django_filters.FilterSet):
    is_global = django_filters.BooleanFilter()

    class Meta:
        model = Collection
        fields = ["is_global"]


class QueryFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose invalid values are the dialect's 422."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise RequestValidationError(
                error_item(
                    type="value_error",
                    loc=["query", name],
                    msg=str(message),
                    input=request.query_params.get(name),
                )
                for name, messages in filterset.errors.items()
                for message in messages
            )
        return filterset.qs
