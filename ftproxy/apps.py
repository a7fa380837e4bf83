from django.apps import AppConfig
from django.core import checks


class FtproxyConfig(AppConfig):
    name = "ftproxy"
    verbose_name = "Fine-tuning gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import conf  # noqa: F401  (connects the setting_changed receiver)
        from .checks import check_settings

        checks.register(check_settings)
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
