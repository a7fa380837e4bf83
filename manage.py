#!/usr/bin/env python
"""Django's command-line utility for the gateway site."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.core.management.base import CommandParser, handle_default_options

    # --settings and --pythonpath are applied before the settings load below,
    # as Django itself does, or they would be silently ignored.
    parser = CommandParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--settings")
    parser.add_argument("--pythonpath")
    options, _ = parser.parse_known_args(sys.argv[2:])
    handle_default_options(options)
    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the config: report its errors plainly)
    except ImproperlyConfigured as exc:
        sys.exit(f"ftproxy: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
