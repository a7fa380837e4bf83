"""A Content-Security-Policy on the HTML pages: the docs and the admin.

The JSON API needs none (browsers do not render it); the pages a person
opens get a policy that runs only the scripts they are meant to run.
"""

from __future__ import annotations

#: Swagger UI's bundle and styles come from a CDN (unless served locally).
DOCS_ASSETS = "https://cdn.jsdelivr.net"

POLICIES = {
    "/docs": (
        "default-src 'self'; "
        f"script-src 'self' {DOCS_ASSETS}; "
        f"style-src 'self' 'unsafe-inline' {DOCS_ASSETS}; "
        f"img-src 'self' data: {DOCS_ASSETS}; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    ),
    "/admin": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


class ContentSecurityPolicyMiddleware:
    """Adds the policy of the page's area (``POLICIES``) unless the view set one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        for prefix, policy in POLICIES.items():
            if request.path.startswith(prefix):
                response.headers.setdefault("Content-Security-Policy", policy)
                break
        return response
