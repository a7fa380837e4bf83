"""A Content-Security-Policy on the HTML pages: the docs and the admin.

The JSON API needs none (browsers do not render it); the pages a person
opens get a policy that runs only the scripts they are meant to run.
"""

from __future__ import annotations

#: The docs pages load only the gateway's own static files (the sidecar's
#: Swagger UI and Redoc), so nothing outside 'self' is allowed: Redoc's
#: bundle would fetch its "Redocly" logo from its CDN, and the policy keeps
#: the page from leaving the machine (the logo is simply not shown).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

POLICIES = {
    "/docs": DOCS_POLICY,
    "/redoc": DOCS_POLICY,
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
