"""The staff area: its own sign-in, open to staff only."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bot.browser import csrf_field
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings


async def test_staff_sign_in_and_out(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            async with http.get(f"{base}/staff") as response:
                assert "Sign in with your staff account." in await response.text()
            async with http.post(
                f"{base}/staff/login",
                data={
                    "username": "dr.chen",
                    "password": DEMO_PASSWORD,
                    **await csrf_field(http, f"{base}/staff"),
                },
            ) as response:
                assert response.status == 200
                page = await response.text()
                # a provider's home is their visit queue
                assert str(response.url).endswith("/staff/queue")
                assert "Dr Sarah Chen" in page and "No visits on this day." in page
            async with http.post(
                f"{base}/staff/logout", data=await csrf_field(http, f"{base}/staff")
            ) as response:
                assert "Sign in with your staff account." in await response.text()


async def test_patients_cannot_sign_in_to_staff_nor_staff_to_portal(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            token = await csrf_field(http, f"{base}/portal")
            alerts: dict[str, set[str]] = {}
            for area, username, password in (
                ("staff", "alice", DEMO_PASSWORD), ("staff", "nobody", DEMO_PASSWORD),
                ("staff", "grace", "wrong"), ("portal", "grace", DEMO_PASSWORD),
                ("portal", "nobody", DEMO_PASSWORD), ("portal", "alice", "wrong"),
            ):  # fmt: skip
                async with http.post(
                    f"{base}/{area}/login",
                    data={"username": username, "password": password, **token},
                ) as response:
                    assert response.status == 401
                    alert = re.search(r'role="alert">([^<]*)</p>', await response.text())
                    assert alert is not None
                    alerts.setdefault(area, set()).add(alert.group(1))
            # where to sign in instead, in the same words whether the account exists or not
            assert alerts == {
                "staff": {"Wrong username or password. Patients sign in at the patient portal, "
                          "/portal."},
                "portal": {"Wrong username or password. Care team members sign in at /staff."},
            }  # fmt: skip
            async with http.post(f"{base}/portal/api/directline-token", json={}) as response:
                assert response.status == 401
            # A portal session cookie does not open the staff area.
            async with http.post(
                f"{base}/portal/login",
                data={"username": "alice", "password": DEMO_PASSWORD, **token},
            ) as response:
                assert response.status == 200
            async with http.get(f"{base}/staff") as response:
                assert "Sign in with your staff account." in await response.text()
