"""The OpenAI-compatible routes of docs/api.md (mounted with and without ``/v1``)."""

from django.urls import path

from . import uploads, views, webhooks

urlpatterns = [
    path("files", views.FileListCreateView.as_view()),
    path("files/<str:file_id>", views.FileDetailView.as_view()),
    path("files/<str:file_id>/content", views.FileContentView.as_view()),
    path("fine_tuning/jobs", views.JobListCreateView.as_view()),
    path("fine_tuning/jobs/<str:job_id>", views.JobDetailView.as_view()),
    path("fine_tuning/jobs/<str:job_id>/cancel", views.JobCancelView.as_view()),
    path("fine_tuning/jobs/<str:job_id>/pause", views.JobPauseView.as_view()),
    path("fine_tuning/jobs/<str:job_id>/resume", views.JobResumeView.as_view()),
    path("fine_tuning/jobs/<str:job_id>/events", views.JobEventsView.as_view()),
    path("fine_tuning/jobs/<str:job_id>/checkpoints", views.JobCheckpointsView.as_view()),
    path("webhooks/<str:entry>", webhooks.OpenAIWebhookView.as_view()),
    path("uploads", uploads.UploadCreateView.as_view()),
    path("uploads/<str:upload_id>/parts", uploads.UploadPartView.as_view()),
    path("uploads/<str:upload_id>/complete", uploads.UploadCompleteView.as_view()),
    path("uploads/<str:upload_id>/cancel", uploads.UploadCancelView.as_view()),
]
