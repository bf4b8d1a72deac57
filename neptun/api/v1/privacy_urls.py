"""URLs of the v1 dialect's retention and erasure views (:mod:`neptun.api.v1.privacy`),
under ``/api/v1/`` before the chat URLs (whose last pattern answers every other path
with the JSON 404). Ids are parsed by the views: a malformed one is that same 404."""

from django.urls import path, re_path

from neptun.api.v1 import privacy

urlpatterns = [
    path("retention", privacy.RetentionApi.as_view(), name="v1-retention"),
    path("users/<str:user_id>", privacy.UserEraseApi.as_view(), name="v1-user"),
    path("users/<str:user_id>/export", privacy.UserExportApi.as_view(), name="v1-user-export"),
    path("erasures/<str:erasure_id>", privacy.ErasureApi.as_view(), name="v1-erasure"),
    # The same with a trailing slash (left out of the OpenAPI schema).
    re_path(r"^retention/$", privacy.RetentionApi.as_view(schema=None)),
    re_path(r"^users/(?P<user_id>[^/]+)/$", privacy.UserEraseApi.as_view(schema=None)),
    re_path(r"^users/(?P<user_id>[^/]+)/export/$", privacy.UserExportApi.as_view(schema=None)),
    re_path(r"^erasures/(?P<erasure_id>[^/]+)/$", privacy.ErasureApi.as_view(schema=None)),
]
