"""mkdocs hook: the provider × feature table, generated from the provider
classes at build time (``ftproxy.providers.features``)."""

from __future__ import annotations

from ftproxy.providers import DEFAULT_PROVIDER_CLASSES, classes_by_kind
from ftproxy.providers.features import PLACEHOLDER, feature_table


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - mkdocs hook API
    if PLACEHOLDER not in markdown:
        return markdown
    classes = classes_by_kind(DEFAULT_PROVIDER_CLASSES).values()
    return markdown.replace(PLACEHOLDER, feature_table(classes))
