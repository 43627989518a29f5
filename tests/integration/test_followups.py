"""Follow-ups that respect people, on SQLite and PostgreSQL, with an injected
clock: a check-in after a finished survey, one reminder for an unfinished one,
quiet hours across a clock change, and nothing at all after stop, forget, a
block or a closed case. The outbox is drained through an in-memory channel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.config import Config, ScheduleConfig, parse
from bot.core.engine import State
from bot.core.errors import ConfigError, NotFoundError
from bot.core.messages import Outbound
from bot.core.quiet_hours import QUIET_KINDS, QuietHours
from bot.runtime.app import build
from bot.runtime.followups import FollowUpRunner
from bot.runtime.outbox import Sender
from bot.service.cases import close_cases
from bot.service.conversation import Conversations
from bot.service.followups import FollowUps, SweepResult
from bot.service.ports import DeliveryError, RetryAfter, TransientError, Unreachable
from storage import repo
from storage.models import Contact, Conversation, FollowUp, Invite, OutboxMessage, Respondent
from tests.conftest import SECRET, FakeClock, FakeTime
from tests.helpers import ChatFamily, make_invite, tiny_sets

MakeService = Callable[..., Conversations]
LONDON = ZoneInfo("Europe/London")
WEEKS_6 = timedelta(weeks=6)
HOURS_48 = timedelta(hours=48)


class FakeChannel:
    """A platform channel in memory. Like the Telegram channel, it marks a
    family who blocked the bot unreachable before raising `Unreachable`."""

    platform = "test"

    def __init__(self, service: Conversations) -> None:
        self.service = service
        self.sent: list[Outbound] = []
        self.blocked: set[str] = set()
        self.failures: dict[str, list[DeliveryError]] = {}
        self._ids = itertools.count(1)

    async def start(self, on_inbound: object, on_unreachable: object) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, out: Outbound) -> str:
        if out.chat_id in self.blocked:
            self.service.mark_unreachable(self.platform, out.chat_id)
            raise Unreachable("blocked")
        pending = self.failures.get(out.chat_id)
        if pending:
            raise pending.pop(0)
        self.sent.append(out)
        return f"m{next(self._ids)}"

    def to(self, chat: str) -> list[str]:
        return [o.text for o in self.sent if o.chat_id == chat]


@dataclass
class Heard:
    """The follow-up half of `heard run`, driven by hand: `due()` is one
    sweep followed by draining the outbox."""

    service: Conversations
    clock: FakeClock
    channel: FakeChannel
    followups: FollowUps
    sender: Sender
    hooks: list[tuple[str, str | None, str]] = field(default_factory=list)

    async def due(self) -> list[Outbound]:
        before = len(self.channel.sent)
        self.followups.sweep()
        await self.sender.drain()
        return self.channel.sent[before:]


def make_heard(
    service: Conversations,
    clock: FakeClock,
    schedule: ScheduleConfig | None = None,
    *,
    owner: str = "proc-1",
    max_in_flight: int = 10,
) -> Heard:
    schedule = schedule or ScheduleConfig()
    channel = FakeChannel(service)
    quiet = schedule.quiet_hours()

    def held(now: datetime) -> Collection[str]:
        return QUIET_KINDS if quiet.contains(now) else ()

    hooks: list[tuple[str, str | None, str]] = []
    sender = Sender(
        service.store,
        {"test": channel},
        owner=owner,
        time=FakeTime(clock).time(),
        lease=schedule.lease,
        held_kinds=held,
        on_sent=lambda kind, ref, mid: hooks.append((kind, ref, mid)),
        max_in_flight=max_in_flight,
    )
    followups = FollowUps(service, schedule, owner=owner)
    return Heard(service, clock, channel, followups, sender, hooks)


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    return make_service(sets=tiny_sets(), default_set="tiny")


@pytest.fixture
def heard(service: Conversations, clock: FakeClock) -> Heard:
    return make_heard(service, clock)


def _invite(service: Conversations, clock: FakeClock, **kw: object) -> Invite:
    with service.store.sessions.begin() as s:
        return make_invite(s, clock(), **kw)  # type: ignore[arg-type]


def _complete(fam: ChatFamily, token: str) -> None:
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("Kind and clear")


def _followups(service: Conversations) -> list[tuple[str, str]]:
    with service.store.sessions() as s:
        return [(f.kind, f.status) for f in s.scalars(select(FollowUp).order_by(FollowUp.id))]


def _outbox(service: Conversations) -> list[OutboxMessage]:
    with service.store.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _state(service: Conversations) -> State:
    with service.store.sessions() as s:
        return State.from_dict(s.scalars(select(Conversation.state)).one())


# -- check-ins and reminders ---------------------------------------------------------


async def test_a_checkin_is_scheduled_after_a_survey_and_sent_once_when_due(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "2001")
    _complete(fam, invite.token)
    assert await heard.due() == []

    clock.advance(WEEKS_6 - timedelta(minutes=1))
    assert await heard.due() == []
    clock.advance(timedelta(minutes=1))
    sent = await heard.due()
    assert [o.chat_id for o in sent] == ["2001", "2001"]
    assert "Hello again" in sent[0].text
    assert [c.label for c in sent[1].choices] == ["Yes, let's start", "No, thanks"]

    rows = _outbox(service)
    assert [(r.kind, r.status) for r in rows] == [("checkin", "sent"), ("checkin", "sent")]
    assert all(r.platform_message_id and r.sent_at == clock() for r in rows)
    assert [(k, ref) for k, ref, _ in heard.hooks] == [("checkin", rows[0].ref)] * 2
    assert ("checkin", "done") in _followups(service)

    clock.advance(timedelta(days=30))
    assert await heard.due() == []

    fam.replies = sent
    assert "(1 of 4)" in fam.tap("yes")
    assert _state(service).round == 2


async def test_one_reminder_for_an_unfinished_survey_and_never_a_second(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "2002")
    fam.start(invite.token)
    fam.tap("yes")
    fam.tap("4")
    clock.advance(HOURS_48 - timedelta(minutes=1))
    assert await heard.due() == []
    clock.advance(timedelta(minutes=1))
    sent = await heard.due()
    assert len(sent) == 2
    assert "gentle reminder" in sent[0].text and "(2 of 4)" in sent[1].text

    # However long it waits, stops or comes back, no second reminder.
    clock.advance(HOURS_48 * 3)
    assert await heard.due() == []
    fam.say("stop")
    fam.say("start")
    clock.advance(HOURS_48 * 2)
    assert await heard.due() == []
    assert [f for f in _followups(service) if f[0] == "reminder"] == [("reminder", "done")]


async def test_a_survey_finished_in_time_gets_no_reminder(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "2003")
    fam.start(invite.token)
    fam.tap("yes")
    clock.advance(timedelta(hours=47))
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("fine")
    clock.advance(timedelta(hours=2))
    assert await heard.due() == []
    assert ("reminder", "cancelled") in _followups(service)


async def test_after_downtime_what_fell_due_is_sent_once(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    families = []
    for n in range(5):
        invite = _invite(service, clock)
        fam = ChatFamily(service, f"30{n}")
        _complete(fam, invite.token)
        families.append(fam)
    clock.advance(WEEKS_6 + timedelta(days=9))  # Heard was down for nine days
    sent = await heard.due()
    assert sorted(o.chat_id for o in sent) == sorted(f.chat_id for f in families for _ in "ab")
    assert await heard.due() == []


# -- quiet hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "due,still_quiet,ends",
    [
        # Clocks go forward on 29 March 2026: 09:00 local is 08:00 UTC.
        (
            datetime(2026, 3, 28, 21, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 7, 59, tzinfo=UTC),
            datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
        ),
        # Clocks go back on 25 October 2026: 09:00 local is 09:00 UTC again.
        (
            datetime(2026, 10, 24, 20, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 8, 59, tzinfo=UTC),
            datetime(2026, 10, 25, 9, 0, tzinfo=UTC),
        ),
    ],
)
async def test_a_reminder_due_in_quiet_hours_goes_when_they_end_across_a_clock_change(
    service: Conversations,
    clock: FakeClock,
    heard: Heard,
    due: datetime,
    still_quiet: datetime,
    ends: datetime,
) -> None:
    clock.now = due - HOURS_48
    invite = _invite(service, clock)
    fam = ChatFamily(service, "4001")
    fam.start(invite.token)
    fam.tap("yes")
    for at in (due, still_quiet):
        clock.now = at
        assert await heard.due() == [], at
    clock.now = ends
    sent = await heard.due()
    assert len(sent) == 2 and "gentle reminder" in sent[0].text
    assert ends.astimezone(LONDON).time() == time(9, 0)


async def test_queued_family_messages_wait_out_quiet_hours_but_alerts_never_do(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    _complete(ChatFamily(service, "4002"), invite.token)
    clock.now = datetime(2026, 4, 14, 18, 59, 59, tzinfo=UTC)  # 19:59:59 BST
    heard.followups.sweep()
    clock.advance(timedelta(seconds=1))  # 20:00: quiet
    with service.store.sessions.begin() as s:
        repo.enqueue_outbound(
            s, platform="test", address="duty", text="Alert", kind="alert", ref=7, now=clock()
        )
    assert await heard.sender.drain() == 1
    assert [o.chat_id for o in heard.channel.sent] == ["duty"]
    assert heard.hooks[-1][:2] == ("alert", "7")
    clock.now = datetime(2026, 4, 15, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert await heard.sender.drain() == 2
    assert heard.channel.to("4002")[0].startswith("Hello again")


def test_quiet_hours_follow_the_local_clock() -> None:
    quiet = QuietHours(time(20), time(9), LONDON)
    winter, summer = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 7, 10, tzinfo=UTC)
    assert not quiet.contains(winter.replace(hour=19, minute=59))
    assert quiet.contains(winter.replace(hour=20))
    assert quiet.contains(winter.replace(hour=8, minute=59))
    assert not quiet.contains(winter.replace(hour=9))
    assert quiet.contains(summer.replace(hour=19))  # 20:00 BST
    assert not quiet.contains(summer.replace(hour=8))  # 09:00 BST
    assert quiet.ends_after(summer.replace(hour=23)) == datetime(2026, 7, 11, 8, tzinfo=UTC)
    assert quiet.ends_after(winter.replace(hour=12)) == winter.replace(hour=12)

    daytime = QuietHours(time(12), time(13, 30), LONDON)
    assert daytime.contains(winter.replace(hour=12, minute=15))
    assert not daytime.contains(winter.replace(hour=13, minute=30))
    assert daytime.ends_after(winter.replace(hour=12)) == winter.replace(hour=13, minute=30)

    off = QuietHours(time(0), time(0), LONDON)
    assert off.off and not off.contains(winter) and off.describe() == "off"


def test_quiet_hours_can_be_switched_off_in_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARD_PSEUDONYM_SECRET", SECRET.decode())
    privacy = {"pseudonym_secret_env": "HEARD_PSEUDONYM_SECRET"}
    for value in ("off", "", "None"):
        raw = {"privacy": privacy, "schedule": {"quiet_hours": value}}
        assert parse(raw, "test").schedule.quiet_hours().off
    with pytest.raises(ConfigError, match=r"\[schedule\] quiet_hours: .* or \"off\""):
        parse({"privacy": privacy, "schedule": {"quiet_hours": "nights"}}, "test")


def test_quiet_hours_that_end_inside_a_skipped_or_repeated_hour() -> None:
    quiet = QuietHours(time(22), time(1, 30), LONDON)
    # 29 March 2026: 01:30 local never happens (01:00 GMT becomes 02:00 BST).
    assert quiet.ends_after(datetime(2026, 3, 29, 0, 45, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # 25 October 2026: 01:30 local happens twice; the first one ends it.
    assert quiet.ends_after(datetime(2026, 10, 24, 23, 0, tzinfo=UTC)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


# -- never unwanted --------------------------------------------------------------------------


async def test_stop_cancels_follow_ups_even_when_already_in_the_outbox(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "5001")
    _complete(fam, invite.token)
    clock.advance(WEEKS_6)
    heard.followups.sweep()  # queued...
    fam.say("stop")  # ...then the family says stop before it went out
    assert await heard.sender.drain() == 0
    assert {r.status for r in _outbox(service)} == {"cancelled"}

    other = ChatFamily(service, "5002")
    _complete(other, _invite(service, clock).token)
    other.say("stop")
    clock.advance(WEEKS_6)
    assert await heard.due() == []
    assert heard.channel.to("5002") == []
    assert ("checkin", "cancelled") in _followups(service)


async def test_forget_leaves_nothing_to_send_and_nothing_queued(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "5101")
    _complete(fam, invite.token)
    clock.advance(WEEKS_6)
    heard.followups.sweep()
    fam.say("forget")
    fam.tap("yes")
    assert await heard.due() == []
    assert _outbox(service) == [] and _followups(service) == []
    with service.store.sessions() as s:
        dump = " ".join(str(r) for r in s.execute(text("SELECT * FROM outbox")))
    assert "5101" not in dump


async def test_a_family_who_blocked_the_bot_gets_nothing_more(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    blocked = ChatFamily(service, "5201")
    _complete(blocked, _invite(service, clock).token)
    fine = ChatFamily(service, "5202")
    _complete(fine, _invite(service, clock).token)
    heard.channel.blocked.add("5201")
    clock.advance(WEEKS_6)
    sent = await heard.due()
    assert {o.chat_id for o in sent} == {"5202"}
    with service.store.sessions() as s:
        statuses = dict(s.execute(select(Respondent.id, Respondent.status)).all())
        assert sorted(statuses.values()) == ["active", "unreachable"]
        blocked_id = next(i for i, st in statuses.items() if st == "unreachable")
        rows = s.scalars(
            select(OutboxMessage.status)
            .where(OutboxMessage.respondent_id == blocked_id)
            .order_by(OutboxMessage.id)
        ).all()
    assert rows == ["failed", "cancelled"]  # the question after the intro never went

    # A follow-up due later for an unreachable family is not even queued.
    with service.store.sessions.begin() as s:
        repo.schedule_followup(s, blocked_id, "checkin", "checkin:9", clock(), clock())
    clock.advance(timedelta(minutes=1))
    assert await heard.due() == []
    assert heard.channel.to("5201") == []


async def test_closing_a_case_cancels_its_follow_ups_and_deletes_the_contact(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    fam = ChatFamily(service, "5301")
    _complete(fam, invite.token)
    with service.store.sessions.begin() as s:
        closure = close_cases(s, now=clock(), code=invite.code.lower())
    assert (closure.cases, closure.followups_cancelled, closure.contacts_deleted) == (1, 1, 1)
    clock.advance(WEEKS_6)
    assert await heard.due() == []
    with service.store.sessions() as s:
        assert s.scalars(select(Contact)).all() == []
        assert s.get(Invite, invite.id).closed_at is not None  # type: ignore[union-attr]
    # The closed invite cannot be used again; a new invite opens a new case.
    assert "used already" in ChatFamily(service, "5399").start(invite.token)
    again = _invite(service, clock)
    fam.say(again.code)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("ok")
    clock.advance(WEEKS_6)
    assert len(await heard.due()) == 2


async def test_closing_every_case_of_a_worker(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    for n, worker in enumerate(("Sam", "Sam", "Ali")):
        _complete(ChatFamily(service, f"540{n}"), _invite(service, clock, worker=worker).token)
    unused = _invite(service, clock, worker="Sam")
    with service.store.sessions.begin() as s:
        closure = close_cases(s, now=clock(), worker="Sam")
    assert (closure.cases, closure.followups_cancelled, closure.contacts_deleted) == (3, 2, 2)
    clock.advance(WEEKS_6)
    assert {o.chat_id for o in await heard.due()} == {"5402"}
    assert "too old" in ChatFamily(service, "5499").start(unused.token)
    with service.store.sessions.begin() as s, pytest.raises(NotFoundError):
        close_cases(s, now=clock(), code="ZZZZ-9999")


async def test_a_follow_up_for_a_closed_case_is_cancelled_even_with_a_contact(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    invite = _invite(service, clock)
    _complete(ChatFamily(service, "5501"), invite.token)
    with service.store.sessions.begin() as s:
        s.get(Invite, invite.id).closed_at = clock()  # type: ignore[union-attr]
    clock.advance(WEEKS_6)
    assert await heard.due() == []
    assert ("checkin", "cancelled") in _followups(service)


# -- delivery failures, leases and order -------------------------------------------------------


async def test_transient_failures_back_off_and_keep_the_order_of_a_chat(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    _complete(ChatFamily(service, "6001"), _invite(service, clock).token)
    heard.channel.failures["6001"] = [TransientError("502"), RetryAfter(30)]
    clock.advance(WEEKS_6)
    assert await heard.due() == []
    first, second = _outbox(service)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "TransientError")
    assert first.next_attempt_at == clock() + timedelta(seconds=5)  # retry_base, no jitter
    assert (second.status, second.attempts) == ("pending", 0)  # waits behind the first

    clock.advance(timedelta(seconds=7))
    assert await heard.sender.drain() == 0  # 429: wait at least the 30 s asked
    assert _outbox(service)[0].next_attempt_at >= clock() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=31))
    assert await heard.sender.drain() == 2
    texts = heard.channel.to("6001")
    assert texts[0].startswith("Hello again") and len(texts) == 2


async def test_a_message_that_keeps_failing_is_given_up_after_max_attempts(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    _complete(ChatFamily(service, "6101"), _invite(service, clock).token)
    heard.channel.failures["6101"] = [TransientError("down")] * 20
    clock.advance(WEEKS_6)
    heard.followups.sweep()
    for _ in range(heard.sender.max_attempts):
        await heard.sender.drain()
        clock.advance(timedelta(hours=1))
    first = _outbox(service)[0]
    assert (first.status, first.attempts) == ("failed", heard.sender.max_attempts)


async def test_a_dead_processs_claims_are_taken_over_when_the_lease_expires(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    _complete(ChatFamily(service, "6201"), _invite(service, clock).token)
    clock.advance(WEEKS_6)
    heard.followups.sweep()
    with service.store.sessions.begin() as s:  # another process claims, then dies
        claimed = repo.claim_outbound(
            s,
            owner="dead",
            now=clock(),
            lease_until=clock() + timedelta(minutes=2),
            limit=10,
            platforms=("test",),
        )
    assert len(claimed) == 1  # one at a time per chat
    assert await heard.sender.drain() == 0
    clock.advance(timedelta(minutes=2))
    assert await heard.sender.drain() == 2


async def test_a_sender_cancelled_as_it_is_woken_stops(
    service: Conversations, clock: FakeClock, heard: Heard
) -> None:
    """Runtime.stop cancels the sender; a wake-up at the same moment (a reply
    just queued) must not swallow the cancellation and leave it running."""
    for _ in range(20):
        running = asyncio.create_task(heard.sender.run())
        await asyncio.sleep(0.05)  # idle, waiting to be woken
        heard.sender._wake.set()
        running.cancel()
        done, _ = await asyncio.wait({running}, timeout=5)
        assert done, "the sender kept running after it was cancelled"
        assert running.cancelled()


class SlowChannel(FakeChannel):
    """Holds every send until `go` is set, like a platform that is slow to answer."""

    def __init__(self, service: Conversations) -> None:
        super().__init__(service)
        self.go = asyncio.Event()
        self.entered = asyncio.Event()

    async def send(self, out: Outbound) -> str:
        self.entered.set()
        await self.go.wait()
        return await super().send(out)


async def test_a_send_slower_than_its_lease_keeps_its_claim_and_goes_once(
    service: Conversations, clock: FakeClock
) -> None:
    _complete(ChatFamily(service, "6250"), _invite(service, clock).token)
    clock.advance(WEEKS_6)
    schedule = ScheduleConfig()
    FollowUps(service, schedule, owner="proc-1").sweep()
    channel = SlowChannel(service)
    fake_time = FakeTime(clock)
    sender = Sender(
        service.store,
        {"test": channel},
        owner="proc-1",
        time=fake_time.time(),
        lease=schedule.lease,
    )
    running = asyncio.create_task(sender.run())
    await asyncio.wait_for(channel.entered.wait(), 10)
    for _ in range(12):  # four minutes in all, twice the lease, while the send hangs
        await fake_time.sleep(20)
        await asyncio.sleep(0.4)  # time for the sender to go round its loop
    with service.store.sessions.begin() as s:  # another process looks for work
        taken = repo.claim_outbound(
            s,
            owner="proc-2",
            now=clock(),
            lease_until=clock() + schedule.lease,
            limit=10,
            platforms=("test",),
        )
    assert taken == []
    channel.go.set()
    for _ in range(100):
        if len(channel.sent) == 2 and all(o.status == "sent" for o in _outbox(service)):
            break
        await asyncio.sleep(0.05)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert [o.status for o in _outbox(service)] == ["sent", "sent"]
    assert len(channel.sent) == 2


async def test_a_follow_up_that_raises_is_retried_after_its_lease_and_others_go_on(
    service: Conversations, clock: FakeClock, heard: Heard, monkeypatch: pytest.MonkeyPatch
) -> None:
    for chat in ("6301", "6302"):
        _complete(ChatFamily(service, chat), _invite(service, clock).token)
    with service.store.sessions() as s:
        broken_id = s.scalars(select(Respondent.id).order_by(Respondent.id)).first()
    real = service.follow_up

    def flaky(session: object, respondent_id: int, kind: str) -> list[Outbound]:
        if respondent_id == broken_id:
            raise RuntimeError("bug")
        return real(session, respondent_id, kind)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "follow_up", flaky)
    clock.advance(WEEKS_6)
    assert {o.chat_id for o in await heard.due()} == {"6302"}
    assert ("checkin", "claimed") in _followups(service)
    monkeypatch.setattr(service, "follow_up", real)
    assert await heard.due() == []  # still leased
    clock.advance(ScheduleConfig().lease)
    assert {o.chat_id for o in await heard.due()} == {"6301"}


async def test_alerts_overtake_a_backlog_of_follow_ups(
    service: Conversations, clock: FakeClock
) -> None:
    heard = make_heard(service, clock, max_in_flight=1)
    for n in range(3):
        _complete(ChatFamily(service, f"640{n}"), _invite(service, clock).token)
    clock.advance(WEEKS_6)
    heard.followups.sweep()
    with service.store.sessions.begin() as s:
        repo.enqueue_outbound(
            s, platform="test", address="duty", text="Alert", kind="alert", now=clock()
        )
    await heard.sender.drain()
    assert heard.channel.sent[0].chat_id == "duty" and len(heard.channel.sent) == 7


async def test_a_family_busy_with_a_message_is_left_for_the_next_sweep(
    service: Conversations, clock: FakeClock, heard: Heard, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises every writer; row locks are PostgreSQL's")
    _complete(ChatFamily(service, "6501"), _invite(service, clock).token)
    clock.advance(WEEKS_6)
    other = create_engine(db_url)
    try:
        with other.begin() as conn:
            conn.execute(text("SELECT id FROM respondents FOR UPDATE"))
            assert heard.followups.sweep().done == 0
        assert _followups(service)[-1] == ("checkin", "pending")
        assert len(await heard.due()) == 2
    finally:
        other.dispose()


async def test_two_sweepers_never_take_the_same_follow_up(
    service: Conversations, clock: FakeClock
) -> None:
    for n in range(30):
        _complete(ChatFamily(service, f"66{n:02d}"), _invite(service, clock).token)
    clock.advance(WEEKS_6)
    one = make_heard(service, clock, owner="one")
    two = make_heard(service, clock, owner="two")
    one.followups.batch = two.followups.batch = 7
    results: list[SweepResult] = []
    threads = [
        threading.Thread(target=lambda h=h: results.append(h.followups.sweep())) for h in (one, two)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.done for r in results) == 30
    with service.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 60


def test_the_sweep_job_is_never_skipped_nor_doubled(tmp_path: Path) -> None:
    app = build(Config(database_url=f"sqlite:///{tmp_path / 'h.db'}", pseudonym_secret=SECRET))
    try:
        runner = FollowUpRunner(app, {}, owner="me")
        job = runner.scheduler().get_jobs()[0]
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time is None  # however late, it runs
    finally:
        app.close()
