"""Error reports that never show the gateway's secrets."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding credentials (e.g. ``vertex_credentials``,
    a service-account key) in settings and local variables of debug pages and
    error e-mails."""

    hidden_settings = re.compile(
        "API|KEY|TOKEN|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|PRIVATE", flags=re.I
    )
