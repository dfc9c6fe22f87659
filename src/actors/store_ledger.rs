//! The ledger actor of one store: it alone owns the accounts of the members homed there,
//! wherever they spend, and the store-side balances those entries touched.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use super::idempotency::IdemTable;
use super::pending::Pending;
use super::registry::Registry;
use super::{ActorError, Durable, WriteResult};
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, StoreId};
use crate::domain::ledger::{
    self, Account, Entry, EntryKind, LedgerCommand, StoreAccount, StoreBook,
};
use crate::domain::money::Money;
use crate::storage::codec::{self, AccountRec, EntryRec};
use crate::storage::{keys, JournalLog, Write};

/// Apply one recharge, deduction or refund under an idempotency key.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct ApplyLedger {
    pub key: IdempotencyKey,
    pub command: LedgerCommand,
}

pub struct StoreLedger {
    home: StoreId,
    registry: Arc<Registry>,
    log: JournalLog,
    /// Accounts loaded so far; loaded lazily from disk, then owned here.
    accounts: HashMap<MemberId, Account>,
    book: StoreBook,
    idem: IdemTable,
    /// Deduction entries written or changed but not durable yet.
    deductions: Pending<(MemberId, EntrySeq), Entry>,
}

impl Actor for StoreLedger {
    type Context = Context<Self>;
}

impl StoreLedger {
    pub fn new(
        home: StoreId,
        registry: Arc<Registry>,
        book: Vec<(StoreAccount, Money)>,
    ) -> StoreLedger {
        let log = registry.journal.log();
        StoreLedger {
            home,
            registry,
            log,
            accounts: HashMap::new(),
            book: StoreBook::from_balances(book),
            idem: IdemTable::default(),
            deductions: Pending::default(),
        }
    }

    fn account(&mut self, member: MemberId) -> Result<Option<Account>, ActorError> {
        if let Some(a) = self.accounts.get(&member) {
            return Ok(Some(*a));
        }
        let loaded = self.registry.storage.account(member)?;
        if let Some(a) = loaded {
            self.accounts.insert(member, a);
        }
        Ok(loaded)
    }

    fn deduction(&self, member: MemberId, seq: EntrySeq) -> Result<Option<Entry>, ActorError> {
        if let Some((_, e)) = self.deductions.get(&(member, seq)) {
            return Ok(Some(*e));
        }
        Ok(self.registry.storage.entry(member, seq)?)
    }
}

impl StoreLedger {
    /// Applies one command under its key, appending its writes to `writes`, which the caller
    /// submits as one journal entry. A repeat of a known key appends nothing and answers the
    /// first outcome; its durability is covered by the ticket of the caller's submission.
    fn apply(
        &mut self,
        key: IdempotencyKey,
        command: LedgerCommand,
        writes: &mut Vec<Write>,
    ) -> Result<Outcome, ActorError> {
        let request = Request::Ledger(command.clone());
        if let Some(answer) = self
            .idem
            .replay(&self.registry.storage, &self.log, &key, &request)?
        {
            return Ok(answer.value);
        }
        let member = command.member();
        if member.home_store() != self.home {
            return Err(ActorError::MemberNotFound(member.get()));
        }
        let account = self
            .account(member)?
            .ok_or(ActorError::MemberNotFound(member.get()))?;
        let now = self.registry.clock.now();
        let posted = match command {
            LedgerCommand::Recharge { store, amount, .. }
            | LedgerCommand::Deduct { store, amount, .. } => {
                if !self.registry.has_store(store) {
                    return Err(ActorError::StoreNotFound(store.get()));
                }
                if matches!(command, LedgerCommand::Recharge { .. }) {
                    ledger::recharge(&account, store, amount, now)
                } else {
                    ledger::deduct(&account, store, amount, now)
                }
            }
            LedgerCommand::Refund {
                deduction, amount, ..
            } => {
                let target = self
                    .deduction(member, deduction)?
                    .ok_or(ActorError::EntryNotFound(member.get(), deduction.0))?;
                ledger::refund(&account, &target, amount, now)
            }
        };
        let seq = self.log.next_seq();
        let outcome =
            match posted.and_then(|p| self.book.apply(&p.entry.transfer()).map(|b| (p, b))) {
                Ok((p, ((store, kind), balance))) => {
                    writes.push(Write::put(
                        keys::account(member),
                        codec::encode(&AccountRec::from(&p.account)),
                    ));
                    writes.push(Write::put(
                        keys::entry(member, p.entry.seq),
                        codec::encode(&EntryRec::from(&p.entry)),
                    ));
                    writes.push(Write::put(
                        keys::book(self.home, store, kind),
                        codec::encode(&balance.minor()),
                    ));
                    if let Some(d) = &p.updated_deduction {
                        writes.push(Write::put(
                            keys::entry(member, d.seq),
                            codec::encode(&EntryRec::from(d)),
                        ));
                    }
                    self.accounts.insert(member, p.account);
                    if let Some(d) = p.updated_deduction {
                        self.deductions.insert(seq, (member, d.seq), d);
                    }
                    if matches!(p.entry.kind, EntryKind::Deduction { .. }) {
                        self.deductions.insert(seq, (member, p.entry.seq), p.entry);
                    }
                    Outcome::Posted(p.entry)
                }
                Err(rejection) => Outcome::Rejected(rejection),
            };
        writes.push(self.idem.record(seq, now, key, request, &outcome));
        Ok(outcome)
    }

    fn submit(&mut self, writes: Vec<Write>) -> crate::storage::Ticket {
        if writes.is_empty() {
            self.log.ticket_for_latest()
        } else {
            self.log.submit(writes)
        }
    }

    fn prune(&mut self) {
        let durable = self.log.durable();
        self.idem.prune(durable);
        self.deductions.prune(durable);
    }
}

impl Handler<ApplyLedger> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: ApplyLedger, _ctx: &mut Context<Self>) -> WriteResult {
        self.prune();
        let mut writes = Vec::with_capacity(5);
        let value = self.apply(msg.key, msg.command, &mut writes)?;
        let ticket = self.submit(writes);
        Ok(Durable { value, ticket })
    }
}

/// Many independent operations for members of this store: each succeeds or fails on its
/// own, and all their writes go to the journal as one submission.
#[derive(Debug, Message)]
#[rtype(result = "Durable<Vec<Result<Outcome, ActorError>>>")]
pub struct ApplyLedgerBatch {
    pub ops: Vec<(IdempotencyKey, LedgerCommand)>,
}

impl Handler<ApplyLedgerBatch> for StoreLedger {
    type Result = actix::MessageResult<ApplyLedgerBatch>;

    fn handle(&mut self, msg: ApplyLedgerBatch, _ctx: &mut Context<Self>) -> Self::Result {
        self.prune();
        let mut writes = Vec::with_capacity(msg.ops.len() * 4);
        let results = msg
            .ops
            .into_iter()
            .map(|(key, command)| self.apply(key, command, &mut writes))
            .collect();
        let ticket = self.submit(writes);
        actix::MessageResult(Durable {
            value: results,
            ticket,
        })
    }
}
