//! Durable completions delivered once per thread per batch. A ticket awaited on an actor
//! thread files its waker in that thread's list instead of waiting on its origin's watch
//! channel. After each synced batch the journal wakes one relay task per thread that has
//! waiters (one cross-thread wake, one eventfd write), and the relay wakes the thread's
//! tickets that are durable now: local wakes, no syscall. Waking every waiting request from
//! the journal thread cost one remote wake each, a twentieth of the server's CPU under load.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures::task::AtomicWaker;
use tokio::sync::watch;

/// What the journal sees of one thread's relay.
#[derive(Default)]
struct Relay {
    waker: AtomicWaker,
    /// Whether the thread has tickets waiting; set by the thread, read by the journal.
    waiting: AtomicBool,
}

/// One relay per actor thread, shared by the journal and the threads.
#[derive(Clone, Default)]
pub struct Relays(Arc<[Relay]>);

struct Waiter {
    origin: Arc<watch::Sender<u64>>,
    seq: u64,
    waker: Waker,
}

struct Local {
    relays: Relays,
    index: usize,
    waiters: Vec<Waiter>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Relays {
    /// Relays for `threads` actor threads; each must then run [`Relays::run`] on its thread.
    pub fn new(threads: usize) -> Relays {
        Relays((0..threads).map(|_| Relay::default()).collect())
    }

    /// Called by the journal after a batch's watermarks are published: wakes each thread
    /// that has tickets waiting.
    pub fn notify(&self) {
        // Pairs with the fence in `Wait::poll`: either the waiter sees the new watermark or
        // the journal sees it waiting.
        fence(Ordering::SeqCst);
        for relay in self.0.iter() {
            if relay.waiting.load(Ordering::SeqCst) {
                relay.waker.wake();
            }
        }
    }

    /// The relay of thread `index`, run on that thread for as long as it lives: from here on,
    /// tickets awaited on this thread wait in its list.
    pub async fn run(self, index: usize) {
        assert!(index < self.0.len(), "one relay per actor thread");
        LOCAL.with(|l| {
            *l.borrow_mut() = Some(Local {
                relays: self.clone(),
                index,
                waiters: Vec::new(),
            })
        });
        std::future::poll_fn(|cx| {
            let relay = &self.0[index];
            relay.waker.register(cx.waker());
            LOCAL.with(|l| {
                if let Some(local) = l.borrow_mut().as_mut() {
                    local.waiters.retain(|w| {
                        let done = *w.origin.borrow() >= w.seq;
                        if done {
                            w.waker.wake_by_ref();
                        }
                        !done
                    });
                    relay
                        .waiting
                        .store(!local.waiters.is_empty(), Ordering::SeqCst);
                }
            });
            Poll::<()>::Pending
        })
        .await;
    }
}

/// Waits for `seq` of `origin` through this thread's relay; `None` on a thread without one.
pub(super) fn wait(origin: &Arc<watch::Sender<u64>>, seq: u64) -> Option<Wait> {
    let has_relay = LOCAL.with(|l| l.borrow().is_some());
    has_relay.then(|| Wait {
        origin: origin.clone(),
        seq,
        filed: None,
        elsewhere: None,
    })
}

pub(super) struct Wait {
    origin: Arc<watch::Sender<u64>>,
    seq: u64,
    /// The waker last filed in the thread's list.
    filed: Option<Waker>,
    /// The watch channel's wait, should the future ever be polled on a thread without a relay.
    elsewhere: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(elsewhere) = self.elsewhere.as_mut() {
            return elsewhere.as_mut().poll(cx);
        }
        if *self.origin.borrow() >= self.seq {
            return Poll::Ready(());
        }
        if !self.filed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let filed = LOCAL.with(|l| {
                let mut l = l.borrow_mut();
                let Some(local) = l.as_mut() else {
                    return false;
                };
                local.waiters.push(Waiter {
                    origin: self.origin.clone(),
                    seq: self.seq,
                    waker: cx.waker().clone(),
                });
                local.relays.0[local.index]
                    .waiting
                    .store(true, Ordering::SeqCst);
                true
            });
            if !filed {
                let (mut rx, seq) = (self.origin.subscribe(), self.seq);
                // The sender lives in this future's `origin`, so the wait ends only at `seq`.
                let elsewhere = self.elsewhere.insert(Box::pin(async move {
                    let _ = rx.wait_for(|d| *d >= seq).await;
                }));
                return elsewhere.as_mut().poll(cx);
            }
            self.filed = Some(cx.waker().clone());
        }
        fence(Ordering::SeqCst);
        if *self.origin.borrow() >= self.seq {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
