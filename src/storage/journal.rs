//! The group-commit journal: the only writers to RocksDB.
//!
//! Actors hand their writes to a journal thread (one of [`LANES`]) through a bounded
//! crossbeam channel. The thread drains everything pending, writes it as one `WriteBatch`
//! with `sync = true`, and only then advances each origin's durable watermark. A reply to a
//! client waits on a [`Ticket`] for that watermark, so nothing is acknowledged, and nothing
//! is read from an actor's memory, before it is on disk. A failed write aborts the process:
//! memory that disagrees with disk must not go on serving.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rocksdb::{WriteBatch, WriteOptions, DB};
use tokio::sync::watch;

use super::completion::Relays;
use super::keys::CF_IDEM;

/// Journal threads. One: submissions become durable in the order they were made, across
/// every actor, so whatever an actor read from another (a catalog change, a stock move, a
/// count card's state) was submitted before, and is durable no later than, the write that
/// read it. Two lanes let a recharge become durable before the tier change it applied.
pub const LANES: usize = 1;
/// Submissions a journal batch may hold before it is written; more wait for the next sync.
pub const BATCH_SUBMISSIONS_MAX: usize = 8_192;
/// Depth of the channels into the journal threads, all lanes together. A full channel
/// blocks the submitting actor, which fills its mailbox, which makes the API answer 503:
/// backpressure all the way out.
pub const QUEUE_SUBMISSIONS_MAX: usize = 16_384;

/// Whether a batch is synced before it counts as durable. Only `Synced` is reachable from
/// the server's configuration and command line; `UnsyncedForTests` exists so that the
/// power-cut test can show it catches a journal that does not sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    Synced,
    UnsyncedForTests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    Default,
    Idem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(Vec<u8>),
    Delete,
    /// A merge operand (see `storage::counter`): commutes with other merges of the key, so
    /// several actors may change one counter without agreeing on an order.
    Merge(Vec<u8>),
}

/// One key's new value, deletion or merge operand.
#[derive(Debug, Clone)]
pub struct Write {
    pub cf: Cf,
    pub key: Vec<u8>,
    pub op: Op,
}

impl Write {
    pub fn put(key: Vec<u8>, value: Vec<u8>) -> Write {
        Write {
            cf: Cf::Default,
            key,
            op: Op::Put(value),
        }
    }

    pub fn delete(key: Vec<u8>) -> Write {
        Write {
            cf: Cf::Default,
            key,
            op: Op::Delete,
        }
    }

    pub fn merge(key: Vec<u8>, operand: Vec<u8>) -> Write {
        Write {
            cf: Cf::Default,
            key,
            op: Op::Merge(operand),
        }
    }

    pub fn put_idem(key: Vec<u8>, value: Vec<u8>) -> Write {
        Write {
            cf: Cf::Idem,
            key,
            op: Op::Put(value),
        }
    }
}

/// Latency bucket steps within a decade, about 25% apart: fine enough to set the server's
/// p99 beside the disk's sync p99 to within a fraction of a millisecond, with round labels.
const LATENCY_STEPS: [f64; 10] = [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0];
/// The decades the buckets cover, in microseconds (exact, so labels print round): 10 µs
/// to 1 s.
const LATENCY_DECADES_US: [f64; 5] = [10.0, 100.0, 1_000.0, 10_000.0, 100_000.0];

/// The buckets of every latency histogram (HTTP requests, journal syncs and waits).
pub fn latency_buckets() -> Vec<f64> {
    let mut buckets: Vec<f64> = LATENCY_DECADES_US
        .iter()
        .flat_map(|d| LATENCY_STEPS.iter().map(move |s| d * s / 1e6))
        .collect();
    buckets.push(1.0);
    buckets
}

struct Submission {
    origin: Arc<watch::Sender<u64>>,
    seq: u64,
    writes: Vec<Write>,
    submitted: Instant,
}

/// What the journal threads measure, as Prometheus metrics (atomic, no lock on the write path).
#[derive(Clone)]
pub struct JournalStats {
    pub batches: prometheus::IntCounter,
    pub submissions: prometheus::IntCounter,
    /// Keys written (puts, deletes and merge operands, after a batch's coalescing).
    pub keys: prometheus::IntCounter,
    /// Submissions per synced batch: how well group commit groups.
    pub batch_submissions: prometheus::Histogram,
    /// Time of each synced `WriteBatch` write.
    pub sync_seconds: prometheus::Histogram,
    /// From a submission's arrival in the queue to its durable watermark: the wait for the
    /// batch before it, and its own.
    pub wait_seconds: prometheus::Histogram,
}

impl JournalStats {
    fn new() -> JournalStats {
        use prometheus::{exponential_buckets, Histogram, HistogramOpts, IntCounter};
        let hist = |name: &str, help: &str, buckets: Vec<f64>| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid histogram options")
        };
        JournalStats {
            batches: IntCounter::new("journal_batches_total", "Synced write batches")
                .expect("valid counter"),
            submissions: IntCounter::new(
                "journal_submissions_total",
                "Actor submissions made durable",
            )
            .expect("valid counter"),
            keys: IntCounter::new("journal_keys_total", "Keys written by synced batches")
                .expect("valid counter"),
            batch_submissions: hist(
                "journal_batch_submissions",
                "Submissions per synced batch",
                exponential_buckets(1.0, 2.0, 14).expect("valid buckets"),
            ),
            sync_seconds: hist(
                "journal_sync_seconds",
                "Time to write and sync one batch",
                latency_buckets(),
            ),
            wait_seconds: hist(
                "journal_wait_seconds",
                "From a submission's arrival to its durable watermark",
                latency_buckets(),
            ),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.batches.clone()))?;
        registry.register(Box::new(self.submissions.clone()))?;
        registry.register(Box::new(self.keys.clone()))?;
        registry.register(Box::new(self.batch_submissions.clone()))?;
        registry.register(Box::new(self.wait_seconds.clone()))?;
        registry.register(Box::new(self.sync_seconds.clone()))
    }
}

/// A cloneable handle to the journal threads.
#[derive(Clone)]
pub struct Journal {
    lanes: Arc<[Sender<Submission>]>,
    stats: JournalStats,
}

impl Journal {
    /// Starts the journal threads over `db` with the given durability (tests only ever pass
    /// anything but `Synced`); they end when every handle is dropped.
    pub fn start_with(db: Arc<DB>, durability: Durability, relays: Relays) -> Journal {
        Journal::start_threads(db, durability, relays).0
    }

    /// Starts synced journal threads over `db`, and returns them to join once every handle
    /// is dropped: the threads hold the database, and a process that exits while one of them
    /// closes it aborts in RocksDB's static destructors.
    pub fn start_joinable(db: Arc<DB>) -> (Journal, Vec<thread::JoinHandle<()>>) {
        Journal::start_threads(db, Durability::Synced, Relays::default())
    }

    fn start_threads(
        db: Arc<DB>,
        durability: Durability,
        relays: Relays,
    ) -> (Journal, Vec<thread::JoinHandle<()>>) {
        let stats = JournalStats::new();
        let mut lanes = Vec::with_capacity(LANES);
        let mut threads = Vec::with_capacity(LANES);
        for lane in 0..LANES {
            let (tx, rx) = crossbeam_channel::bounded(QUEUE_SUBMISSIONS_MAX / LANES);
            let (db, thread_stats, relays) = (db.clone(), stats.clone(), relays.clone());
            let thread = thread::Builder::new()
                .name(format!("journal-{lane}"))
                .spawn(move || run(db, rx, thread_stats, durability, relays))
                .expect("spawning a journal thread");
            lanes.push(tx);
            threads.push(thread);
        }
        let journal = Journal {
            lanes: lanes.into(),
            stats,
        };
        (journal, threads)
    }

    pub fn stats(&self) -> &JournalStats {
        &self.stats
    }

    /// A new origin for a chain-wide actor: one per actor, with its own sequence and
    /// durable watermark.
    pub fn log(&self) -> JournalLog {
        self.log_for(0)
    }

    /// A new origin for an actor of store `owner` (its lane is the store's).
    pub fn log_for(&self, owner: u32) -> JournalLog {
        let (tx, _) = watch::channel(0);
        JournalLog {
            tx: self.lanes[owner as usize % self.lanes.len()].clone(),
            origin: Arc::new(tx),
            next_seq: 1,
        }
    }

    /// Submissions waiting in every lane.
    pub fn queue_depth(&self) -> usize {
        self.lanes.iter().map(Sender::len).sum()
    }
}

/// An actor's own view of the journal. Submissions from one origin become durable in order.
pub struct JournalLog {
    tx: Sender<Submission>,
    origin: Arc<watch::Sender<u64>>,
    next_seq: u64,
}

impl JournalLog {
    /// Queues `writes` to be committed atomically and returns the ticket that completes
    /// when they are durable. Blocks the calling actor while the journal queue is full.
    pub fn submit(&mut self, writes: Vec<Write>) -> Ticket {
        debug_assert!(!writes.is_empty());
        let seq = self.next_seq;
        self.next_seq += 1;
        let sub = Submission {
            origin: self.origin.clone(),
            seq,
            writes,
            submitted: Instant::now(),
        };
        let sub = match self.tx.try_send(sub) {
            Ok(()) => return self.ticket(seq),
            Err(TrySendError::Full(sub)) => sub,
            Err(TrySendError::Disconnected(_)) => fail_stop("journal thread is gone"),
        };
        tracing::warn!("journal queue full: actor waits for the disk");
        if self.tx.send(sub).is_err() {
            fail_stop("journal thread is gone");
        }
        self.ticket(seq)
    }

    /// A ticket for everything this origin has submitted so far; already complete when the
    /// origin has nothing in flight.
    pub fn ticket_for_latest(&self) -> Ticket {
        self.ticket(self.next_seq - 1)
    }

    /// The sequence the next submission will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Highest sequence of this origin that is known to be on disk.
    pub fn durable(&self) -> u64 {
        *self.origin.borrow()
    }

    /// A ticket for submission `seq` of this origin; 0 means "already durable".
    pub fn ticket(&self, seq: u64) -> Ticket {
        Ticket {
            origin: self.origin.clone(),
            seq,
        }
    }
}

/// Completes once a submission is durable.
#[derive(Debug)]
pub struct Ticket {
    origin: Arc<watch::Sender<u64>>,
    seq: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("the journal stopped before the write was durable")]
pub struct JournalStopped;

impl Ticket {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until the submission is durable: on an actor thread through its relay (see
    /// `completion`), elsewhere on the origin's watch channel.
    pub async fn durable(self) -> Result<(), JournalStopped> {
        let seq = self.seq;
        if *self.origin.borrow() >= seq {
            return Ok(());
        }
        if let Some(wait) = super::completion::wait(&self.origin, seq) {
            wait.await;
            return Ok(());
        }
        self.origin
            .subscribe()
            .wait_for(|d| *d >= seq)
            .await
            .map(|_| ())
            .map_err(|_| JournalStopped)
    }
}

fn fail_stop(why: &str) -> ! {
    tracing::error!("fail-stop: {why}");
    eprintln!("fail-stop: {why}");
    std::process::abort();
}

/// Every write of `pending` in (column family, key) order, writes of one key in submission
/// order. Sorting compares a 16-byte big-endian prefix held inline before touching the keys:
/// with a thousand-operation batch the pointer chasing of a plain sort was a sixth of the
/// journal thread.
fn sorted_writes(pending: &[Submission]) -> Vec<&Write> {
    fn prefix(w: &Write) -> u128 {
        let mut b = [0u8; 16];
        let n = w.key.len().min(16);
        b[..n].copy_from_slice(&w.key[..n]);
        u128::from_be_bytes(b)
    }
    let mut keyed: Vec<(u8, u128, usize, &Write)> = pending
        .iter()
        .flat_map(|s| s.writes.iter())
        .enumerate()
        .map(|(i, w)| (w.cf as u8, prefix(w), i, w))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| a.3.key.cmp(&b.3.key))
            .then(a.2.cmp(&b.2))
    });
    keyed.into_iter().map(|(_, _, _, w)| w).collect()
}

fn run(
    db: Arc<DB>,
    rx: Receiver<Submission>,
    stats: JournalStats,
    durability: Durability,
    relays: Relays,
) {
    let Some(idem_cf) = db.cf_handle(CF_IDEM) else {
        fail_stop("column family `idem` is missing")
    };
    let mut opts = WriteOptions::default();
    opts.set_sync(durability == Durability::Synced);
    let mut pending: Vec<Submission> = Vec::with_capacity(BATCH_SUBMISSIONS_MAX);
    let mut watermarks: HashMap<*const watch::Sender<u64>, (Arc<watch::Sender<u64>>, u64)> =
        HashMap::new();
    while let Ok(first) = rx.recv() {
        pending.push(first);
        while pending.len() < BATCH_SUBMISSIONS_MAX {
            match rx.try_recv() {
                Ok(sub) => pending.push(sub),
                Err(_) => break,
            }
        }
        // Keys in order make RocksDB's memtable inserts cheap (its skip-list splice is reused);
        // a stable sort keeps two writes of one key in submission order, so the last wins.
        // A key written twice in one batch (a hot account, a store's balance) needs only its
        // last value: a put or delete hides every earlier write of its key. Merge operands
        // hide nothing; a run of them on one key is folded into one below.
        let mut writes = sorted_writes(&pending);
        writes.reverse();
        writes.dedup_by(|earlier, later| {
            later.cf == earlier.cf && later.key == earlier.key && !matches!(later.op, Op::Merge(_))
        });
        writes.reverse();
        let mut batch = WriteBatch::default();
        let mut rest = writes.as_slice();
        while let Some((&w, tail)) = rest.split_first() {
            // Merge operands of one key (day figures: one per deduction) become one.
            let run = rest
                .iter()
                .take_while(|x| x.cf == w.cf && x.key == w.key && matches!(x.op, Op::Merge(_)))
                .count();
            if run > 1 && w.cf == Cf::Default {
                let operands = rest[..run].iter().filter_map(|x| match &x.op {
                    Op::Merge(v) => Some(v.as_slice()),
                    _ => None,
                });
                if let Some(folded) = super::counter::sum(&w.key, None, operands) {
                    batch.merge(&w.key, folded);
                    rest = &rest[run..];
                    continue;
                }
            }
            rest = tail;
            match (w.cf, &w.op) {
                (Cf::Default, Op::Put(v)) => batch.put(&w.key, v),
                (Cf::Default, Op::Delete) => batch.delete(&w.key),
                (Cf::Default, Op::Merge(v)) => batch.merge(&w.key, v),
                (Cf::Idem, Op::Put(v)) => batch.put_cf(idem_cf, &w.key, v),
                (Cf::Idem, Op::Delete) => batch.delete_cf(idem_cf, &w.key),
                (Cf::Idem, Op::Merge(v)) => batch.merge_cf(idem_cf, &w.key, v),
            }
        }
        stats.keys.inc_by(batch.len() as u64);
        let started = Instant::now();
        if let Err(e) = db.write_opt(batch, &opts) {
            fail_stop(&format!("RocksDB write failed: {e}"));
        }
        stats.sync_seconds.observe(started.elapsed().as_secs_f64());
        stats.batches.inc();
        stats.submissions.inc_by(pending.len() as u64);
        stats.batch_submissions.observe(pending.len() as f64);

        let durable = Instant::now();
        for sub in pending.drain(..) {
            stats
                .wait_seconds
                .observe(durable.duration_since(sub.submitted).as_secs_f64());
            let slot = watermarks
                .entry(Arc::as_ptr(&sub.origin))
                .or_insert_with(|| (sub.origin.clone(), 0));
            debug_assert!(sub.seq > slot.1, "an origin's submissions arrive in order");
            slot.1 = sub.seq;
        }
        for (_, (origin, seq)) in watermarks.drain() {
            origin.send_replace(seq);
        }
        relays.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in a directory that lives as long as the returned guard.
    fn temp_storage() -> (tempfile::TempDir, super::super::Storage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = super::super::Storage::open(dir.path(), std::time::Duration::from_secs(60))
            .expect("open");
        (dir, storage)
    }

    fn sub(writes: Vec<Write>) -> Submission {
        Submission {
            origin: Arc::new(watch::channel(0).0),
            seq: 1,
            writes,
            submitted: Instant::now(),
        }
    }

    #[test]
    fn writes_sort_by_family_and_key_keeping_submission_order_within_a_key() {
        let long = |last: u8| {
            let mut k = vec![b'K'; 16];
            k.push(last);
            k
        };
        let pending = vec![
            sub(vec![
                Write::put(long(2), b"1".to_vec()),
                Write::put_idem(b"A".to_vec(), b"2".to_vec()),
                Write::put(b"B\0".to_vec(), b"3".to_vec()),
            ]),
            sub(vec![
                Write::put(b"B".to_vec(), b"4".to_vec()),
                Write::put(long(1), b"5".to_vec()),
                Write::put(long(2), b"6".to_vec()),
            ]),
        ];
        let got: Vec<(Cf, &[u8], &[u8])> = sorted_writes(&pending)
            .into_iter()
            .map(|w| match &w.op {
                Op::Put(v) => (w.cf, w.key.as_slice(), v.as_slice()),
                _ => unreachable!("only puts here"),
            })
            .collect();
        let (l1, l2) = (long(1), long(2));
        assert_eq!(
            got,
            vec![
                (Cf::Default, &b"B"[..], &b"4"[..]),
                (Cf::Default, &b"B\0"[..], &b"3"[..]),
                (Cf::Default, &l1[..], &b"5"[..]),
                (Cf::Default, &l2[..], &b"1"[..]),
                (Cf::Default, &l2[..], &b"6"[..]),
                (Cf::Idem, &b"A"[..], &b"2"[..]),
            ]
        );
    }

    /// Every lane makes its origins' writes durable, and within one origin the later write
    /// of a key wins even when the two land in different batches.
    #[tokio::test]
    async fn each_lane_keeps_its_origins_in_order() {
        let (_dir, storage) = temp_storage();
        let (journal, threads) = Journal::start_joinable(storage.db());
        let mut logs: Vec<JournalLog> = (0..LANES as u32 * 2).map(|o| journal.log_for(o)).collect();
        let mut tickets = Vec::new();
        for round in 0..50u8 {
            for (i, log) in logs.iter_mut().enumerate() {
                let key = vec![b'k', i as u8];
                tickets.push(log.submit(vec![Write::put(key, vec![round])]));
            }
        }
        for t in tickets {
            t.durable().await.expect("durable");
        }
        for (i, log) in logs.iter().enumerate() {
            let got = storage.db().get([b'k', i as u8]).expect("read");
            assert_eq!(got, Some(vec![49]), "origin {i}");
            assert_eq!(log.durable(), 50);
        }
        stop(journal, logs, threads);
    }

    /// Ends the journal threads before the test returns: a process that exits while a
    /// thread still closes the database aborts in RocksDB's static destructors.
    fn stop(journal: Journal, logs: Vec<JournalLog>, threads: Vec<thread::JoinHandle<()>>) {
        drop((journal, logs));
        for t in threads {
            t.join().expect("journal thread");
        }
    }

    /// Tickets awaited on a thread with a relay complete through it: one wake per batch for
    /// the thread, then local wakes; with many waiting at once, none is forgotten.
    #[test]
    fn tickets_on_a_relay_thread_complete() {
        let (_dir, storage) = temp_storage();
        let relays = Relays::new(1);
        let (journal, threads) =
            Journal::start_threads(storage.db(), Durability::Synced, relays.clone());
        let mut log = journal.log();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.spawn_local(relays.run(0));
        local.block_on(&runtime, async {
            for round in 0..20u8 {
                let waits: Vec<_> = (0..50u8)
                    .map(|i| log.submit(vec![Write::put(vec![b'r', i], vec![round])]))
                    .map(|t| tokio::task::spawn_local(t.durable()))
                    .collect();
                for w in waits {
                    let done = tokio::time::timeout(std::time::Duration::from_secs(10), w).await;
                    done.expect("completes").expect("task").expect("durable");
                }
            }
        });
        assert_eq!(log.durable(), 1_000);
        stop(journal, vec![log], threads);
    }

    /// Issue 22: causal order across actors. Whatever one actor submitted before another
    /// submits is durable no later: when a write is durable, so is every write submitted
    /// before it by any actor (a catalog change before the recharge that read it).
    #[tokio::test]
    async fn a_write_is_never_durable_before_one_submitted_earlier_by_another_actor() {
        let (_dir, storage) = temp_storage();
        let (journal, threads) = Journal::start_joinable(storage.db());
        let mut logs: Vec<JournalLog> = (0..8u32).map(|o| journal.log_for(o)).collect();
        for round in 0..200u64 {
            let (cause, effect) = ((round % 8) as usize, ((round + 3) % 8) as usize);
            let cause_key = [b"c".as_slice(), &round.to_be_bytes()].concat();
            let _ = logs[cause].submit(vec![Write::put(cause_key.clone(), vec![1])]);
            let t = logs[effect].submit(vec![Write::put(vec![b'e'], vec![2])]);
            t.durable().await.expect("durable");
            // Written (synced) in the effect's batch or an earlier one; origins' watermarks
            // are told after the write, in no particular order, so read the disk.
            let on_disk = storage.db().get(&cause_key).expect("read");
            assert!(
                on_disk.is_some(),
                "round {round}: the effect is durable before its cause"
            );
        }
        stop(journal, logs, threads);
    }
}
