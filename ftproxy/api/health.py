"""Health endpoints: no auth, no provider calls."""

from django.db import connection
from django.http import JsonResponse


def liveliness(request):
    return JsonResponse({"status": "healthy"})


def readiness(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means "not ready"
        return JsonResponse(
            {"status": "unhealthy", "db": "disconnected", "error": type(exc).__name__}, status=503
        )
    return JsonResponse({"status": "healthy", "db": "connected"})
