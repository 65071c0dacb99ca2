"""The admin's page for release templates (事实 · 措施 · 结果/进展 per category), which the release form offers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from api.deps import get_session
from api.web import csrf, labels
from api.web.security import page_role
from api.web.templating import language, render, translator
from desk import release_templates as store
from desk.models import User
from desk.release_content import PARTS, PLACEHOLDERS, TemplateError
from desk.vocab import Category, Role

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf.verify)]
ADMINS = (Role.admin,)


def _page(request: Request, session: Session, *, errors: dict | None = None, values: dict | None = None,
          saved: str = "", status_code: int = 200):
    _ = translator(request)
    return render(request, "admin_release_templates.html", {
        "templates": store.all_templates(session),
        "categories": {c.value: _(labels.CATEGORIES[c.value]) for c in Category},
        "parts": [(p, _(labels.RELEASE_PARTS[p])) for p in PARTS],
        "placeholders": {name: _(labels.PLACEHOLDERS[name]) for name in PLACEHOLDERS},
        "errors": errors or {}, "values": values or {}, "saved": saved,
    }, status_code=status_code)


@router.get("/admin/release-templates")
def templates_page(request: Request, saved: str = "", _user: User = Depends(page_role(*ADMINS)),
                   session: Session = Depends(get_session)):
    return _page(request, session, saved=saved if saved in {c.value for c in Category} else "")


@router.post("/admin/release-templates/{category}", dependencies=CSRF)
async def save_template(request: Request, category: str, user: User = Depends(page_role(*ADMINS)),
                        session: Session = Depends(get_session)):
    _ = translator(request)
    if category not in {c.value for c in Category}:
        from api.web.security import PageError
        raise PageError(404, _("No such category."))
    form = await request.form()
    parts = {p: str(form.get(p) or "")[:2000] for p in PARTS}
    try:
        store.save_template(session, category, parts, user.username)
    except TemplateError as exc:
        session.rollback()
        message = exc.message_en if language(request) == "en" else str(exc)
        return _page(request, session, errors={category: {exc.part or PARTS[0]: message}},
                     values={category: parts}, status_code=422)
    return RedirectResponse(f"/admin/release-templates?saved={category}#template-{category}", 303)
