"""The service's routes, one router per area, in the order :func:`tenken.serve.app.create_app` includes them."""

from tenken.serve.routes import exports, jobs, pages, references, review, service, sites

ROUTERS = (service.router, sites.router, references.router, jobs.router, review.router, exports.router, pages.router)
