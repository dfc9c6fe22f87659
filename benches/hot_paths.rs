//! Criterion benches of the hot paths on their own, apart from HTTP.
//! Run: `make bench` (or `cargo bench --bench hot_paths`). Figures go in BENCHMARKS.md.

use std::time::Duration;

use actix::{Actor, Context, Handler, Message};
use chrono::{DateTime, NaiveDateTime};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};

use chainstore::domain::calendar::{BookingId, Calendar};
use chainstore::domain::ids::{EntrySeq, MemberId, StoreId};
use chainstore::domain::ledger::{self, Account, StoreBook};
use chainstore::domain::money::{Amount, Money};
use chainstore::domain::recurrence::{expand, Repeat};
use chainstore::storage::codec::{self, AccountRec, EntryRec};
use chainstore::storage::{Journal, Storage, Write};

fn ledger_benches(c: &mut Criterion) {
    let store = StoreId::new(1).expect("store");
    let member = MemberId::new(store, 1);
    let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
    let account = Account {
        balance: Money::from_minor(1_000_000_000),
        last_entry: EntrySeq(10),
        ..Account::open(member)
    };
    let amount = Amount::new(100).expect("amount");

    c.bench_function("ledger/deduct", |b| {
        b.iter(|| ledger::deduct(black_box(&account), store, amount, at))
    });
    c.bench_function("ledger/deduct+book+encode", |b| {
        b.iter_batched(
            StoreBook::default,
            |mut book| {
                let p = ledger::deduct(&account, store, amount, at).expect("funded");
                for t in p.entry.transfers() {
                    book.apply(&t).expect("no overflow");
                }
                (
                    codec::encode(&AccountRec::from(&p.account)),
                    codec::encode(&EntryRec::from(&p.entry)),
                )
            },
            BatchSize::SmallInput,
        )
    });
    // What the journal thread receives for a batch of 1,000 deductions.
    c.bench_function("journal/encode_1000_deductions", |b| {
        b.iter(|| {
            let mut writes = Vec::with_capacity(3000);
            let mut acct = account.clone();
            for _ in 0..1000 {
                let p = ledger::deduct(&acct, store, amount, at).expect("funded");
                writes.push(codec::encode(&AccountRec::from(&p.account)));
                writes.push(codec::encode(&EntryRec::from(&p.entry)));
                writes.push(codec::encode(&p.account.balance.minor()));
                acct = p.account;
            }
            writes
        })
    });
}

fn schedule_benches(c: &mut Criterion) {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let minute = chrono::Duration::minutes(1);
    c.bench_function("calendar/check+insert_into_1000", |b| {
        b.iter_batched(
            || {
                let mut cal = Calendar::new(3);
                for i in 0..1000i64 {
                    cal.insert(
                        BookingId(i as u64),
                        t0 + minute * (i * 90) as i32,
                        t0 + minute * (i * 90 + 60) as i32,
                    );
                }
                cal
            },
            |mut cal| {
                let (s, e) = (t0 + minute * 45_030, t0 + minute * 45_090);
                if cal.check(s, e).is_ok() {
                    cal.insert(BookingId(1_000_000), s, e);
                }
                cal
            },
            BatchSize::LargeInput,
        )
    });
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
    let first = NaiveDateTime::parse_from_str("2026-03-07T10:00", "%Y-%m-%dT%H:%M").expect("time");
    let weekly = Repeat::Weekly {
        firsts: vec![first],
        count: 99,
    };
    c.bench_function("recurrence/expand_weekly_99", |b| {
        b.iter(|| expand(black_box(&weekly), tz))
    });
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Ping(u64);

struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Ping> for Echo {
    type Result = u64;
    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> u64 {
        msg.0 + 1
    }
}

fn actor_benches(c: &mut Criterion) {
    let system = actix::System::new();
    let addr = system.block_on(async { Echo.start() });
    c.bench_function("actor/round_trip", |b| {
        b.iter(|| system.block_on(addr.send(Ping(1))).expect("reply"))
    });
}

/// The journal with `sync = true`: one submission alone, and 64 at once sharing a sync.
fn journal_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::open(dir.path(), Duration::from_secs(86_400)).expect("open");
    let (journal, threads) = Journal::start_joinable(storage.db());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut logs: Vec<_> = (0..64).map(|i| journal.log_for(i)).collect();
    let mut n = 0u64;
    let mut group = c.benchmark_group("journal");
    group.sample_size(30);
    group.bench_function("commit_1_synced", |b| {
        b.iter(|| {
            n += 1;
            let t = logs[0].submit(vec![Write::put(n.to_be_bytes().to_vec(), vec![0; 100])]);
            runtime.block_on(t.durable()).expect("durable");
        })
    });
    group.bench_function("commit_64_sharing_a_sync", |b| {
        b.iter(|| {
            let tickets: Vec<_> = logs
                .iter_mut()
                .map(|log| {
                    n += 1;
                    log.submit(vec![Write::put(n.to_be_bytes().to_vec(), vec![0; 100])])
                })
                .collect();
            runtime.block_on(async {
                for t in tickets {
                    t.durable().await.expect("durable");
                }
            });
        })
    });
    group.finish();
    drop((logs, journal, storage));
    for thread in threads {
        thread.join().expect("journal thread");
    }
}

criterion_group!(
    benches,
    ledger_benches,
    schedule_benches,
    actor_benches,
    journal_benches
);
criterion_main!(benches);
