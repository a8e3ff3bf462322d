"""The operator's review page and the files it loads (no key: the page asks for one)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parents[1] / "static"
"""The page's HTML, script and style."""

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/review")


@router.get("/review")
def page() -> FileResponse:
    return FileResponse(STATIC / "review.html", media_type="text/html; charset=utf-8")


@router.get("/fonts/ipaexg.ttf")
def japanese_font() -> FileResponse:
    """IPAex Gothic (shipped by japanize-matplotlib, IPA Font License): Japanese text on machines without
    a Japanese font, with nothing fetched from elsewhere."""
    from tenken.viz.fonts import japanese_font_path

    return FileResponse(japanese_font_path(), media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})
