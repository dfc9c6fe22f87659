"""A counter's day through a client generated from the OpenAPI document.

tests/it/generated_client.rs generates `chainstore_client` with openapi-python-client from
the running server's document, then runs this with the server's URL and an HQ key. Every
call is a typed function of the generated client and every answer a typed model: an
operation, field or status the document stops describing breaks this script, and the test.

The server's testing clock stands at 2026-03-02T00:00:00Z (a Monday).
"""

import sys

from chainstore_client import AuthenticatedClient
from chainstore_client.api.directory import post_members, post_stores
from chainstore_client.api.ledger import (
    get_members_balance,
    post_members_deductions,
    post_members_recharges,
    post_members_refunds,
)
from chainstore_client.api.orders import post_orders, post_orders_returns
from chainstore_client.api.scheduling import (
    post_services,
    put_settings,
    post_stores_appointments,
    post_stores_plans,
    post_stores_resources,
    put_stores_hours,
)
from chainstore_client.models import (
    AppointmentBody,
    BalanceDto,
    BookingDto,
    ConflictReport,
    CounterDto,
    CreateStoreBody,
    EntryDto,
    LineBody,
    MemberDto,
    MoneyBody,
    OrderBody,
    PaymentBody,
    Periodic,
    PlanBody,
    PlanDto,
    RefundBody,
    RegisterMemberBody,
    RepeatBodyType0,
    ResourceBody,
    ResourceDto,
    ReturnBody,
    ReturnLineBody,
    ServiceBody,
    ServiceDto,
    SettingsBody,
    StoreDto,
    StoreHoursBody,
    StoreHoursBodyBusinessHours,
    StoreHoursDto,
)


def expect(answer, kind):
    assert isinstance(answer, kind), f"expected {kind.__name__}, got {answer!r}"
    return answer


def main(base_url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)
    k = iter(f"counter-day-{i}" for i in range(1000))

    store = expect(
        post_stores.sync(client=client, body=CreateStoreBody(name="Jing an"), idempotency_key=next(k)),
        StoreDto,
    )
    week = [["09:00", "21:00"]]
    expect(
        put_stores_hours.sync(
            store.id,
            client=client,
            body=StoreHoursBody(
                business_hours=StoreHoursBodyBusinessHours(
                    mon=week, tue=week, wed=week, thu=week, fri=week, sat=week, sun=week
                )
            ),
            idempotency_key=next(k),
        ),
        StoreHoursDto,
    )

    # Register, recharge, deduct, refund.
    member = expect(
        post_members.sync(
            client=client,
            body=RegisterMemberBody(phone="13800138000", name="Li Lei", home_store_id=store.id),
            idempotency_key=next(k),
        ),
        MemberDto,
    )
    recharge = expect(
        post_members_recharges.sync(
            member.id,
            client=client,
            body=MoneyBody(amount=100_000, store_id=store.id, tender="wechat_pay"),
            idempotency_key=next(k),
        ),
        EntryDto,
    )
    assert recharge.balance_after == 100_000, recharge
    deduction = expect(
        post_members_deductions.sync(
            member.id, client=client, body=MoneyBody(amount=3_000, store_id=store.id), idempotency_key=next(k)
        ),
        EntryDto,
    )
    assert deduction.balance_after == 97_000, deduction
    again = expect(
        post_members_deductions.sync(
            member.id, client=client, body=MoneyBody(amount=3_000, store_id=store.id), idempotency_key="repeat-me"
        ),
        EntryDto,
    )
    replay = expect(
        post_members_deductions.sync(
            member.id, client=client, body=MoneyBody(amount=3_000, store_id=store.id), idempotency_key="repeat-me"
        ),
        EntryDto,
    )
    assert replay.entry_seq == again.entry_seq and replay.balance_after == 94_000, replay
    refund = expect(
        post_members_refunds.sync(
            member.id,
            client=client,
            body=RefundBody(deduction_seq=deduction.entry_seq, amount=1_000),
            idempotency_key=next(k),
        ),
        EntryDto,
    )
    assert refund.balance_after == 95_000, refund

    # Check out two lines from stored value, then return one.
    checkout = expect(
        post_orders.sync(
            client=client,
            body=OrderBody(
                member_id=member.id,
                store_id=store.id,
                lines=[
                    LineBody(sku="SERUM-30", unit_price=5_000, quantity=2),
                    LineBody(sku="MASK-1", unit_price=2_000, quantity=1),
                ],
                payment=PaymentBody(stored_value=12_000, points=0, tenders=[]),
            ),
            idempotency_key=next(k),
        ),
        CounterDto,
    )
    assert checkout.account.balance == 83_000, checkout.account
    order_id = checkout.order.id
    returned = expect(
        post_orders_returns.sync(
            order_id,
            client=client,
            body=ReturnBody(lines=[ReturnLineBody(line=1, quantity=1)]),
            idempotency_key=next(k),
        ),
        CounterDto,
    )
    assert returned.account.balance == 85_000, returned.account
    balance = expect(get_members_balance.sync(member.id, client=client), BalanceDto)
    assert balance.balance == 85_000, balance

    # Book an appointment; the same slot again collides.
    facial = expect(
        post_services.sync(
            client=client,
            body=ServiceBody(
                name="Facial", duration_minutes=60, booking_mode="appointment", resource_kinds=["room"]
            ),
            idempotency_key=next(k),
        ),
        ServiceDto,
    )
    room = expect(
        post_stores_resources.sync(
            store.id,
            client=client,
            body=ResourceBody(name="Room 1", kind="room", capacity=1),
            idempotency_key=next(k),
        ),
        ResourceDto,
    )
    slot = AppointmentBody(
        member_id=member.id, service_id=facial.id, start="2026-03-03T10:00", resource_ids=[room.id]
    )
    booked = expect(
        post_stores_appointments.sync(store.id, client=client, body=slot, idempotency_key=next(k)),
        BookingDto,
    )
    assert booked.status == "confirmed", booked
    clash = expect(
        post_stores_appointments.sync(store.id, client=client, body=slot, idempotency_key=next(k)),
        ConflictReport,
    )
    assert clash.code == "slot_unavailable" and clash.failures, clash

    # A term of ten weekly lessons: a dry run, then the plan (HQ turns plans on first).
    expect(
        put_settings.sync(client=client, body=SettingsBody(service_plans_enabled=True), idempotency_key=next(k)),
        SettingsBody,
    )
    lesson = expect(
        post_services.sync(
            client=client,
            body=ServiceBody(
                name="Yoga term", duration_minutes=60, booking_mode="service_plan", resource_kinds=["room"]
            ),
            idempotency_key=next(k),
        ),
        ServiceDto,
    )
    term = PlanBody(
        member_id=member.id,
        service_id=lesson.id,
        resource_ids=[room.id],
        repeat=RepeatBodyType0(weekly=Periodic(first_times=["2026-03-04T18:00"], count=10)),
        dry_run=True,
    )
    dry = expect(post_stores_plans.sync(store.id, client=client, body=term, idempotency_key=next(k)), PlanDto)
    assert dry.dry_run and len(dry.occurrences) == 10, dry
    term.dry_run = False
    plan = expect(post_stores_plans.sync(store.id, client=client, body=term, idempotency_key=next(k)), PlanDto)
    assert not plan.dry_run and len(plan.occurrences) == 10, plan
    print("a counter's day through the generated client: ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
