from django.contrib import admin
from django.urls import include, path

# The admin is a console: its lists need the width the navigation sidebar
# would take (the index and breadcrumbs navigate).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("ftproxy.urls")),
]

handler400 = "ftproxy.api.exceptions.json_bad_request"
handler404 = "ftproxy.api.exceptions.json_page_not_found"
handler500 = "ftproxy.api.exceptions.json_server_error"
