"""The OpenAI-compatible routes of docs/api.md (mounted with and without ``/v1``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import webhooks
from .files import FileViewSet
from .jobs import JobViewSet
from .keys import KeyViewSet
from .models import ModelViewSet
from .uploads import UploadViewSet

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("files", FileViewSet, basename="files")
router.register("fine_tuning/jobs", JobViewSet, basename="fine-tuning-jobs")
router.register("uploads", UploadViewSet, basename="uploads")
router.register("models", ModelViewSet, basename="models")

urlpatterns = [
    *router.urls,
    path("webhooks/<str:entry>", webhooks.OpenAIWebhookView.as_view()),
    # Updates are POSTs to the key, as OpenAI's own admin APIs take them.
    path("keys", KeyViewSet.as_view({"get": "list", "post": "create"})),
    path("keys/<str:key_id>", KeyViewSet.as_view({"get": "retrieve", "post": "update"})),
    path("keys/<str:key_id>/revoke", KeyViewSet.as_view({"post": "revoke"})),
    path("keys/<str:key_id>/rotate", KeyViewSet.as_view({"post": "rotate"})),
]
