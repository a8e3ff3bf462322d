"""A site's reference archive: upload photos, register a server folder, list."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from sqlalchemy import select

from tenken.serve import archive
from tenken.serve.deps import DB, Admin, Blobs, Id, Settings, Uploader, Who, read_upload, site_of
from tenken.serve.models import Reference
from tenken.serve.schemas import ReferenceOut, RegisterIn, RegisterOut

router = APIRouter(tags=["references"])


@router.post("/api/v1/sites/{site_id}/references", status_code=201)
async def upload_references(
    site_id: Id, files: Annotated[list[UploadFile], File(description="reference photos")], who: Uploader,
    db: DB, blobs: Blobs, settings: Settings,
) -> list[ReferenceOut]:  # fmt: skip
    """Add reference photos to a site's archive (GPS read from EXIF/XMP and indexed)."""
    site_of(db, who, site_id)
    out = []
    for i, f in enumerate(files):
        data, name = await read_upload(f, f"reference-{i}")
        out.append(ReferenceOut.model_validate(archive.add_reference(db, blobs, site_id, data, name, settings)))
    return out


@router.post("/api/v1/sites/{site_id}/references/register")
def register_references(
    site_id: Id, body: RegisterIn, who: Admin, db: DB, blobs: Blobs, settings: Settings
) -> RegisterOut:
    """Register every image of a server folder (admin; only inside the server's import roots)."""
    site_of(db, who, site_id)
    result = archive.register_folder(db, blobs, site_id, body.folder, settings)
    return RegisterOut(references=[ReferenceOut.model_validate(r) for r in result.references], skipped=result.skipped)


@router.get("/api/v1/sites/{site_id}/references")
def list_references(site_id: Id, who: Who, db: DB) -> list[ReferenceOut]:
    """A site's reference photos."""
    site_of(db, who, site_id)
    with db.read() as s:
        rows = s.execute(select(Reference).where(Reference.site_id == site_id).order_by(Reference.id)).scalars()
        return [ReferenceOut.model_validate(r) for r in rows]
