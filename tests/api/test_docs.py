"""/docs (Swagger UI) and /redoc work offline: every script, stylesheet and
image they reference is one of the gateway's own static files."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest
import requests

pytestmark = pytest.mark.django_db

#: src="…", href="…" and the JS string literals the pages load at run time.
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE = re.compile(r"""["'](https?:)?//[^"']+["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_assets_that_answer(live_server, page):
    response = requests.get(live_server.url + page, timeout=10)
    assert response.status_code == 200
    html = response.text
    assert not ABSOLUTE.findall(html), "an absolute URL would leave the machine"
    assets = [a for a in ASSET.findall(html) if not a.startswith(("#", "data:"))]
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        url = urljoin(live_server.url + page, asset)
        assert urlparse(url).netloc == urlparse(live_server.url).netloc, asset
        assert requests.get(url, timeout=10).status_code == 200, asset
    if page == "/docs":  # Swagger UI's default badge asks an online validator
        # Its settings are in the page's own script (no inline script: CSP).
        script = requests.get(live_server.url + "/docs?script=", timeout=10).text
        assert '"validatorUrl": null' in script
    # The schema the page loads is local too.
    assert requests.get(live_server.url + "/openapi.json", timeout=10).status_code == 200
