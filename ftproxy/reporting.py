"""Error reports that never show the gateway's secrets."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding credentials (e.g. ``vertex_credentials``,
    a service-account key) in the settings shown by debug pages and error
    e-mails, and in local variables whose names, or whose dictionaries'
    keys, look like credentials (entries and configs are dictionaries).
    Request headers go through the same test, so ``Authorization`` (a
    user's key, or the master key) is hidden too."""

    hidden_settings = re.compile(
        "API|KEY|TOKEN|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|PRIVATE|AUTHORIZATION",
        flags=re.I,
    )

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]
