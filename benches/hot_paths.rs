//! Criterion benches of the hot paths, apart from HTTP and the disk.
//! Run: `make bench` (or `cargo bench --bench hot_paths`).

use chrono::DateTime;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};

use chainstore::domain::ids::{MemberId, StoreId};
use chainstore::domain::ledger::{self, Account, StoreBook};
use chainstore::domain::money::{Amount, Money};
use chainstore::storage::codec::{self, AccountRec, EntryRec};

fn ledger_benches(c: &mut Criterion) {
    let store = StoreId::new(1).expect("store");
    let member = MemberId::new(store, 1);
    let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
    let account = Account {
        member,
        balance: Money::from_minor(1_000_000_000),
        last_entry: chainstore::domain::ids::EntrySeq(10),
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
                book.apply(&p.entry.transfer()).expect("no overflow");
                (
                    codec::encode(&AccountRec::from(&p.account)),
                    codec::encode(&EntryRec::from(&p.entry)),
                )
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, ledger_benches);
criterion_main!(benches);
