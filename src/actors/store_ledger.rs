//! The ledger actor of one store: it alone owns the accounts of the members homed there,
//! wherever they spend, and the store-side balances those entries touched.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use super::pending::Pending;
use super::registry::Registry;
use super::{ActorError, Durable, WriteResult};
use crate::domain::idempotency::{judge, Outcome, Replay, Request};
use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, StoreId};
use crate::domain::ledger::{self, Account, Entry, LedgerCommand, StoreAccount, StoreBook};
use crate::domain::money::Money;
use crate::storage::codec::{self, AccountRec, EntryRec, IdemRec};
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
    idem: Pending<IdempotencyKey, (Request, Outcome)>,
    /// Deduction entries whose `refunded` changed but is not durable yet.
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
            idem: Pending::default(),
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

    fn replay(
        &self,
        key: &IdempotencyKey,
        request: &Request,
    ) -> Result<Option<Durable<Outcome>>, ActorError> {
        let (stored, seq) = match self.idem.get(key) {
            Some((seq, (r, o))) => (Some((r.clone(), o.clone())), seq),
            None => (self.registry.storage.idempotency(key)?, 0),
        };
        match judge(stored.as_ref().map(|(r, o)| (r, o)), request) {
            Replay::Fresh => Ok(None),
            Replay::Repeat(value) => Ok(Some(Durable {
                value: *value,
                ticket: self.log.ticket(seq),
            })),
            Replay::Conflict => Err(ActorError::IdempotencyConflict),
        }
    }
}

impl Handler<ApplyLedger> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: ApplyLedger, _ctx: &mut Context<Self>) -> WriteResult {
        let durable = self.log.durable();
        self.idem.prune(durable);
        self.deductions.prune(durable);

        let request = Request::Ledger(msg.command.clone());
        if let Some(answer) = self.replay(&msg.key, &request)? {
            return Ok(answer);
        }
        let member = msg.command.member();
        debug_assert_eq!(member.home_store(), self.home);
        let account = self
            .account(member)?
            .ok_or(ActorError::MemberNotFound(member.get()))?;
        let now = self.registry.clock.now();
        let posted = match msg.command {
            LedgerCommand::Recharge { store, amount, .. }
            | LedgerCommand::Deduct { store, amount, .. } => {
                if !self.registry.has_store(store) {
                    return Err(ActorError::StoreNotFound(store.get()));
                }
                if matches!(msg.command, LedgerCommand::Recharge { .. }) {
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

        let mut writes = Vec::with_capacity(5);
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
                        self.deductions
                            .insert(self.log.next_seq(), (member, d.seq), d);
                    }
                    Outcome::Posted(p.entry)
                }
                Err(rejection) => Outcome::Rejected(rejection),
            };
        writes.push(Write::put_idem(
            keys::idem(&msg.key),
            codec::encode(&IdemRec::new(now, &request, &outcome)),
        ));
        let ticket = self.log.submit(writes);
        self.idem
            .insert(ticket.seq(), msg.key, (request, outcome.clone()));
        Ok(Durable {
            value: outcome,
            ticket,
        })
    }
}
