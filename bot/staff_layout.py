"""The frame of every staff page: header with sign-out, navigation, one main landmark."""

from __future__ import annotations

import html

from aiohttp import web

from bot.csrf import csrf_token
from bot.pages import CSRF_FIELD, page, sign_out_button
from bot.staff_auth import StaffView
from bot.staff_texts import t
from integrations.accounts import Role

STYLE = """<style>
nav.staff ul { list-style: none; display: flex; gap: 16px; padding: 0; margin: 0 0 16px; }
nav.staff a, main a { color: #0b5d43; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d9e1e6; }
section.card { margin-bottom: 16px; }
textarea { width: 100%; min-height: 6em; padding: 8px; font-size: 1rem; }
.state { font-weight: 600; }
.join { display: inline-block; padding: 8px 14px; background: #0b6e4f; color: #fff; border-radius: 4px; }
.chart svg { max-width: 100%; height: auto; }
.notice { color: #0b5d43; font-weight: 600; }
</style>"""


def hidden_csrf(request: web.Request) -> str:
    """The CSRF field of this page's forms."""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf_token(request))}">'


def _nav(view: StaffView) -> str:
    language = view.language
    links: list[tuple[str, str]] = []
    role = view.account.role
    if role is Role.PROVIDER:
        links.append(("/staff/queue", t("queue", language)))
    if role is Role.CARE_MANAGER:
        links += [
            ("/staff/patients", t("patients", language)),
            ("/staff/alerts", t("alerts", language)),
        ]
    if role is Role.ADMIN:
        links.append(("/staff/audit", t("audit", language)))
    items = "".join(f'<li><a href="{href}">{html.escape(label)}</a></li>' for href, label in links)
    return f'<nav class="staff" aria-label="{html.escape(t("staff_nav", language))}"><ul>{items}</ul></nav>'


def staff_page(request: web.Request, view: StaffView, title: str, body: str) -> web.Response:
    """A staff page titled TITLE around BODY (trusted markup built by the caller)."""
    header = sign_out_button(
        "/staff/logout",
        view.account.display_name,
        csrf_token(request),
        t("sign_out", view.language),
    )
    return page(
        request,
        title=f"{title} - carebot staff",
        heading="carebot staff",
        header_right=header,
        body=f"{STYLE}{_nav(view)}<h2>{html.escape(title)}</h2>{body}",
        lang=view.language,
    )
