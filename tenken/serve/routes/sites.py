"""Sites and API keys (creating them needs an admin key)."""

from fastapi import APIRouter
from sqlalchemy import select

from tenken.core.errors import InputError
from tenken.serve.deps import DB, Admin, Who
from tenken.serve.keys import create_key
from tenken.serve.models import Site
from tenken.serve.review import NotFoundError
from tenken.serve.schemas import KeyIn, KeyOut, SiteIn, SiteOut

router = APIRouter(tags=["sites"])


@router.post("/api/v1/sites", status_code=201)
def create_site(body: SiteIn, _: Admin, db: DB) -> SiteOut:
    """Create a site (admin)."""
    with db.read() as s:
        if s.execute(select(Site).where(Site.name == body.name)).scalar() is not None:
            raise InputError(f"a site named {body.name!r} exists already")
    with db.write() as s:
        site = Site(name=body.name)
        s.add(site)
        s.flush()
    return SiteOut.model_validate(site)


@router.get("/api/v1/sites")
def list_sites(who: Who, db: DB) -> list[SiteOut]:
    """The sites this key may use."""
    with db.read() as s:
        q = select(Site).order_by(Site.id)
        if not who.admin:
            q = q.where(Site.id == who.site_id)
        return [SiteOut.model_validate(x) for x in s.execute(q).scalars()]


@router.post("/api/v1/keys", status_code=201)
def make_key(body: KeyIn, _: Admin, db: DB) -> KeyOut:
    """Create an API key (admin): for one site (``site_id``) or another admin (``admin: true``)."""
    if body.admin == (body.site_id is not None):
        raise InputError("give either site_id (a site key) or admin: true (an admin key)")
    if body.site_id is not None:
        with db.read() as s:
            if s.get(Site, body.site_id) is None:
                raise NotFoundError(f"site {body.site_id} not found")
    key, row = create_key(db, body.name, body.site_id, body.admin)
    return KeyOut(id=row.id, name=row.name, prefix=row.prefix, site_id=row.site_id, admin=row.admin, key=key)
