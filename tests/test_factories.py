"""Factories: validation, and CSV import that is all-or-nothing with problems by line number."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Factory
from services.errors import NotFound
from services.factories import (
    FactoryImportError,
    FactoryInput,
    InvalidFactory,
    access_factory,
    check_timezone,
    do_add_factory,
    do_import_factories,
    get_factory_by_code,
    list_factories,
)
from services.scope import Scope
from tests.conftest import Database

GOOD = "code,name,country,timezone\nDK-01,Dhaka Knit,BD,Asia/Dhaka\nPP-07,Phnom Penh Garments,KH,\n"


async def test_add_defaults_to_the_country_time_zone(session: AsyncSession) -> None:
    made = await do_add_factory(session, FactoryInput(code="ir-3", name=" Irbid 3 ", country="jo"))
    assert (made.code, made.name, made.country_code, made.timezone) == (
        "IR-3",
        "Irbid 3",
        "JO",
        "Asia/Amman",
    )
    assert await get_factory_by_code(session, "ir-3") is made


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (FactoryInput(code="x", name="A", country="BD"), "code"),
        (FactoryInput(code="AB_1", name="A", country="BD"), "code"),
        (FactoryInput(code="AB1", name="", country="BD"), "name"),
        (FactoryInput(code="AB1", name="A", country="ZZ"), "country"),
        (FactoryInput(code="AB1", name="A", country="BD", timezone="Asia/Dacca-ish"), "time zone"),
        (FactoryInput(code="AB1", name="A", country="BD", languages=("xx",)), "language"),
    ],
)
async def test_bad_factory_is_refused_with_a_reason(
    session: AsyncSession, data: FactoryInput, reason: str
) -> None:
    with pytest.raises(InvalidFactory) as err:
        await do_add_factory(session, data)
    assert reason in str(err.value)


async def test_access_and_list_follow_the_scope(session: AsyncSession) -> None:
    dhaka = await do_add_factory(session, FactoryInput(code="DK-01", name="Dhaka", country="BD"))
    amman = await do_add_factory(session, FactoryInput(code="AM-01", name="Amman", country="JO"))
    bangladesh = Scope.only("BD")
    assert await access_factory(session, dhaka.id, bangladesh) is dhaka
    assert await access_factory(session, amman.id, Scope.everywhere()) is amman
    for factory_id in (amman.id, amman.id + dhaka.id + 1000):  # elsewhere, or no such factory
        with pytest.raises(NotFound):
            await access_factory(session, factory_id, bangladesh)
    assert list(await list_factories(session, bangladesh)) == [dhaka]
    assert set(await list_factories(session, Scope.everywhere())) == {dhaka, amman}


async def test_duplicate_code_is_refused(session: AsyncSession) -> None:
    await do_add_factory(session, FactoryInput(code="AB1", name="A", country="BD"))
    with pytest.raises(InvalidFactory, match="already used"):
        await do_add_factory(session, FactoryInput(code="ab1", name="B", country="KH"))


async def test_csv_import(session: AsyncSession) -> None:
    made = await do_import_factories(session, "\ufeff" + GOOD)
    assert [(f.code, f.timezone) for f in made] == [
        ("DK-01", "Asia/Dhaka"),
        ("PP-07", "Asia/Phnom_Penh"),
    ]


async def test_csv_with_bad_rows_imports_nothing_and_names_every_line(
    session: AsyncSession,
) -> None:
    text = GOOD + "bad code!,X,BD,\nOK-1,Fine,BD,Mars/Olympus\nDK-01,Again,BD,\nOK-2,Fine,ZZ,\n"
    with pytest.raises(FactoryImportError) as err:
        await do_import_factories(session, text)
    lines = [(p.line, p.reason) for p in err.value.problems]
    assert [line for line, _ in lines] == [4, 5, 6, 7]
    assert "time zone" in lines[1][1] and "line 2" in lines[2][1] and "country" in lines[3][1]
    assert await session.scalar(select(func.count()).select_from(Factory)) == 0


async def test_csv_without_the_columns_is_refused(session: AsyncSession) -> None:
    with pytest.raises(FactoryImportError, match="1 problem"):
        await do_import_factories(session, "name;country\nA;BD\n")


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.text(max_size=300))
def test_time_zone_check_never_crashes(name: str) -> None:
    with contextlib.suppress(InvalidFactory):
        assert check_timezone(name) == name.strip()


def test_cli_import_reports_lines_and_imports_nothing(db: Database, tmp_path: Path) -> None:
    csv = tmp_path / "f.csv"
    csv.write_text(GOOD + "x,,BD,\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "WORKVOICE_DATABASE_URL": db.url,
        "WORKVOICE_DATA_DIR": str(tmp_path),
    }
    cli = [sys.executable, "-m", "workvoice.cli", "factory"]
    out = subprocess.run(
        [*cli, "import", str(csv)], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1, out.stderr
    assert f"{csv}:line 4:" in out.stderr and "nothing imported" in out.stderr
    csv.write_text(GOOD)
    out = subprocess.run(
        [*cli, "import", str(csv)], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "imported 2" in out.stdout
    out = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, timeout=60)
    assert "DK-01\tBD\tAsia/Dhaka\tDhaka Knit" in out.stdout
