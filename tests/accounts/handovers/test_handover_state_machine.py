"""A Hypothesis state machine over a handover's actions: its invariants hold whatever the order.

Never completed with an open item; never completed without an HR and an IT sign-off by two
different people; completed and cancelled are final; sign-offs only once every item is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
from typing import Any

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from accounts.handovers import flows, services
from accounts.handovers.enums import HandoverState
from accounts.handovers.tables import Handover, HandoverItem, SignOff
from register import audit
from register.actor import Actor
from register.db import bind_engine, make_engine
from register.enums import Role
from register.errors import RegisterError
from register.settings import Settings
from register.staff.services import create_employee

LEAD = "lead@example.com"
ACTORS = {
    "hr": Actor(user_id=9001, email="hr@example.com", role=Role.hr),
    "lead": Actor(user_id=9002, email=LEAD, role=Role.hr),
    "it": Actor(user_id=9003, email="it@example.com", role=Role.it),
    "admin": Actor(user_id=9004, email="admin@example.com", role=Role.admin),
    "admin2": Actor(user_id=9005, email="admin2@example.com", role=Role.admin),
}
FINAL = (HandoverState.completed.value, HandoverState.cancelled.value)


def test_handover_state_machine(settings: Settings, secrets: Any) -> None:
    settings = dataclasses.replace(settings, handover_hr_leads=(LEAD,))
    loop = asyncio.new_event_loop()
    engine: Any = make_engine(settings.database_url)
    if engine.engine_type == "postgres":
        # Hundreds of short transactions: waiting for each commit's flush is most of the run.
        engine.config["server_settings"] = {"synchronous_commit": "off"}
    bind_engine(engine)
    audit.configure(secrets.signing_key, secrets.audit_mac_key)
    run = loop.run_until_complete
    counter = itertools.count(1)
    reached: dict[str, int] = {}

    async def prepare() -> int:
        if engine.engine_type == "postgres":
            await engine.start_connection_pool(min_size=1, max_size=2)
        else:
            await engine.start_connection_pool()
        system = Actor.system("test")
        for title, team in (("Return the laptop", "it"), ("Exit interview", "hr"), ("Badge", "hr")):
            await services.create_template(actor=system, data={"title": title, "owner_role": team})
        successor = await create_employee(
            actor=system, data={"name": "Sue Successor", "work_email": "sue@example.com"}
        )
        return successor["id"]

    successor_id = run(prepare())

    async def new_handover(n: int) -> tuple[int, list[int]]:
        system = Actor.system("test")
        leaver = await create_employee(
            actor=system,
            data={
                "name": f"Leaver {n}",
                "work_email": f"leaver{n}@example.com",
                "leaving_date": dt.date.today() + dt.timedelta(days=20),
            },
        )
        handover = await flows.start_handover(
            actor=system,
            settings=settings,
            employee_id=leaver["id"],
            successor_id=successor_id,
            open_now=True,
        )
        return handover["id"], [i["id"] for i in handover["items"]]

    class HandoverMachine(RuleBasedStateMachine):
        """Random sequences of completing, waiving, signing and cancelling one handover."""

        def __init__(self) -> None:
            super().__init__()
            self.hid, self.items = run(new_handover(next(counter)))
            self.final: str | None = None

        def _try(self, coro: Any) -> None:
            try:
                run(coro)
            except RegisterError:
                pass  # refusals (403, 409, 422) are part of the game; a 500 is not

        @rule(i=st.integers(0, 2), who=st.sampled_from(["owner", "owner", "admin", "other"]))
        def complete(self, i: int, who: str) -> None:
            # Item 0 is IT's, items 1 and 2 HR's; "other" is the wrong team.
            owner, other = ("it", "hr") if i == 0 else ("hr", "it")
            actor = ACTORS[{"owner": owner, "other": other}.get(who, who)]
            self._try(
                flows.complete_item(
                    actor=actor, handover_id=self.hid, item_id=self.items[i], note="done"
                )
            )

        @rule(i=st.integers(0, 2), who=st.sampled_from(["lead", "admin", "hr", "it"]))
        def waive(self, i: int, who: str) -> None:
            self._try(
                flows.waive_item(
                    actor=ACTORS[who],
                    settings=settings,
                    handover_id=self.hid,
                    item_id=self.items[i],
                    reason="not needed",
                )
            )

        @rule(team=st.sampled_from(["hr", "it"]), who=st.sampled_from(["team", "team", *ACTORS]))
        def sign(self, team: str, who: str) -> None:
            self._try(
                flows.sign_off(
                    actor=ACTORS[team if who == "team" else who],
                    signing_key=secrets.signing_key,
                    handover_id=self.hid,
                    team=team,  # type: ignore[arg-type]
                )
            )

        @precondition(lambda self: self.final is None)
        @rule(coin=st.integers(0, 19))
        def cancel(self, coin: int) -> None:
            if coin != 7:
                # Rarer than the other steps (and not on a boundary value, which Hypothesis
                # favours), or few runs would get as far as completing.
                return
            row = run(Handover.select(Handover.version).where(Handover.id == self.hid).first())
            self._try(
                flows.cancel_handover(
                    actor=ACTORS["hr"],
                    handover_id=self.hid,
                    version=row["version"],
                    reason="stays",
                    person_stays=False,
                )
            )

        @invariant()
        def holds(self) -> None:
            row = run(Handover.select().where(Handover.id == self.hid).first())
            states = [
                r["state"]
                for r in run(
                    HandoverItem.select(HandoverItem.state).where(HandoverItem.handover == self.hid)
                )
            ]
            signs = run(SignOff.select().where(SignOff.handover == self.hid))
            if self.final is not None:
                assert row["state"] == self.final, "a final state changed"
            if row["state"] in FINAL and self.final is None:
                self.final = row["state"]
                reached[row["state"]] = reached.get(row["state"], 0) + 1
            if row["state"] == HandoverState.completed.value:
                assert "open" not in states, "completed with an open item"
                assert {s["team"] for s in signs} == {"hr", "it"}, "completed without both teams"
                assert len({s["user_id"] for s in signs}) == 2, "one person signed twice"
                assert row["certificate"], "completed without a certificate"
            else:
                assert len(signs) < 2 or row["state"] == HandoverState.cancelled.value
            if row["state"] in (
                HandoverState.awaiting_sign_off.value,
                HandoverState.completed.value,
            ):
                assert "open" not in states
            if signs:
                assert "open" not in states, "signed while items were open"
            assert len({s["user_id"] for s in signs}) == len(signs)

    try:
        hypothesis.stateful.run_state_machine_as_test(
            HandoverMachine,
            settings=hypothesis.settings(
                max_examples=200,
                stateful_step_count=20,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
            ),
        )
    finally:
        run(engine.close_connection_pool())
        loop.close()
    # The runs reached both ends, so the invariants were tested where they matter.
    assert reached.get("completed", 0) > 0 and reached.get("cancelled", 0) > 0, reached
