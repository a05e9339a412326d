//! The one task per instance that turns events into deliveries: each message and each
//! hide or unhide once, in id order except for late ones, with gaps filled from the
//! database (docs/delivery.md).
//!
//! Messages and visibility changes are two numbered sequences, each with its own
//! [`Cursor`]: the bus brings their events, the database is polled for the newest id of
//! both every second (and at once when the bus reconnects), and ids the bus did not bring
//! are asked of the database. After each wake the cursors' low marks are published as the
//! instance's [`Position`]: every frame carries the position the stream reaches once that
//! frame is written, so a client that resumes from it misses nothing.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::delivery::{self, Cursor};
use super::envelope::Inbound;
use super::event::{Event, EventHooks, Noticed};
use super::protocol::Position;
use super::registry::Registry;
use super::visibility::RecentVisibility;
use crate::clock::now_us;
use crate::metrics::Metrics;
use crate::store::{NewestIds, Store, TimelineMessage, VisibilityChange};

/// How often the dispatcher asks the database for its newest ids, to find messages and
/// changes whose events the bus never brought (Redis down, stalled, or a publisher that
/// died).
const POLL_NEWEST: Duration = Duration::from_secs(1);
/// How often the dispatcher looks at its cursors for catch-ups and expired holds.
const TICK: Duration = Duration::from_millis(50);
/// Longest wait between catch-up attempts while the database fails.
const CATCH_UP_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The part of the hub the dispatcher works with: where it delivers (the registry), whom
/// it tells of every change (the event hooks), and where it records the instance's
/// position. The hub holds it; the dispatcher holds it weakly, so it ends with the last
/// clone of the hub.
pub struct Fanout {
    /// Identifies this instance's events when they come back from Redis.
    pub origin: u128,
    pub registry: Arc<Registry>,
    pub metrics: Metrics,
    /// Run for every event, this instance's and the others' (`Hub::on_event`).
    pub hooks: EventHooks,
    /// Where this instance's deliveries stand (`Hub::position`).
    pub position: SharedPosition,
}

/// The instance's position: the low marks of both cursors after the last wake.
#[derive(Debug, Default)]
pub struct SharedPosition {
    message: AtomicI64,
    change: AtomicI64,
}

impl SharedPosition {
    pub fn get(&self) -> Position {
        Position {
            message: self.message.load(Ordering::Acquire),
            change: Some(self.change.load(Ordering::Acquire)),
        }
    }

    fn set(&self, message: i64, change: i64) {
        self.message.store(message, Ordering::Release);
        self.change.store(change, Ordering::Release);
    }
}

/// What a database query of the dispatcher found.
enum Answer {
    Newest(NewestIds),
    NewestFailed,
    /// What was found among the ids asked for.
    Found {
        asked_messages: Vec<i64>,
        messages: Vec<TimelineMessage>,
        asked_changes: Vec<i64>,
        changes: Vec<VisibilityChange>,
    },
    CatchUpFailed,
}

/// An item waiting in a cursor, with when it was published.
struct Pending<T> {
    item: T,
    at_us: i64,
}

/// What one wake releases, in id order per sequence.
struct Ready {
    messages: Vec<Pending<TimelineMessage>>,
    changes: Vec<Pending<VisibilityChange>>,
}

/// See the module docs.
pub(super) struct Dispatcher {
    fanout: Weak<Fanout>,
    store: Store,
    messages: Cursor<Pending<TimelineMessage>>,
    changes: Cursor<Pending<VisibilityChange>>,
    visibility: RecentVisibility,
    answers: mpsc::UnboundedSender<Answer>,
    /// A newest-ids query is out.
    polling: bool,
    /// A catch-up query is out.
    asking: bool,
    ask_backoff: Duration,
    next_ask: Instant,
}

impl Dispatcher {
    /// Runs until the hub is gone. Holds its [`Fanout`] weakly, so it ends with the last
    /// clone of the hub.
    pub(super) async fn run(
        fanout: Weak<Fanout>,
        mut rx: mpsc::UnboundedReceiver<Inbound>,
        store: Store,
    ) {
        let (answers, mut answer_rx) = mpsc::unbounded_channel();
        let mut dispatcher = Dispatcher {
            fanout,
            messages: Cursor::default(),
            changes: Cursor::default(),
            visibility: RecentVisibility::default(),
            answers,
            polling: false,
            asking: false,
            ask_backoff: delivery::CATCH_UP_AFTER,
            next_ask: Instant::now(),
            store,
        };
        // What was committed before the start is for `since` replays, not live delivery;
        // unknown (the database is down), the first poll settles it.
        if let Ok(Ok(newest)) =
            tokio::time::timeout(Duration::from_secs(2), dispatcher.store.newest_ids()).await
        {
            dispatcher.messages = Cursor::starting_after(newest.message);
            dispatcher.changes = Cursor::starting_after(newest.change);
            if let Some(fanout) = dispatcher.fanout.upgrade() {
                fanout.position.set(newest.message, newest.change);
            }
        }
        let mut poll = tokio::time::interval(POLL_NEWEST);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let hold = dispatcher.hold_deadline(Instant::now());
            let mut ready = Ready {
                messages: Vec::new(),
                changes: Vec::new(),
            };
            let mut poll_now = false;
            tokio::select! {
                inbound = rx.recv() => {
                    let (Some(fanout), Some(inbound)) = (dispatcher.fanout.upgrade(), inbound) else { return };
                    poll_now = dispatcher.on_inbound(&fanout, inbound, &mut ready);
                }
                answer = answer_rx.recv() => {
                    let (Some(fanout), Some(answer)) = (dispatcher.fanout.upgrade(), answer) else { return };
                    dispatcher.on_answer(&fanout, answer, &mut ready);
                }
                _ = sleep_until(hold) => {}
                _ = poll.tick() => poll_now = true,
                _ = tick.tick() => {}
            }
            let Some(fanout) = dispatcher.fanout.upgrade() else {
                return;
            };
            let now = Instant::now();
            ready.messages.extend(dispatcher.messages.release(now));
            ready.changes.extend(dispatcher.changes.release(now));
            if poll_now {
                dispatcher.poll();
            }
            dispatcher.ask(&fanout, now);
            dispatcher.deliver(&fanout, ready);
        }
    }

    /// An event or a reconnect of the bus; `true` when the database should be polled now.
    fn on_inbound(&mut self, fanout: &Fanout, inbound: Inbound, ready: &mut Ready) -> bool {
        let envelope = match inbound {
            Inbound::BusReconnected => {
                fanout.hooks.note(Noticed::Gap);
                return true;
            }
            Inbound::Event(envelope) => envelope,
        };
        // This instance's own events ran the hook when published.
        if envelope.origin != fanout.origin {
            fanout.hooks.note_event(&envelope.event);
        }
        let now = Instant::now();
        let at_us = envelope.at_us;
        match envelope.event {
            Event::Followed { who, whom } => fanout.registry.follow_changed(who, whom, true),
            Event::Unfollowed { who, whom } => fanout.registry.follow_changed(who, whom, false),
            Event::MessagePosted(item) => {
                let id = item.message_id;
                ready
                    .messages
                    .extend(self.messages.offer(id, Pending { item, at_us }, now));
            }
            Event::VisibilityChanged(item) => {
                let id = item.change_id;
                ready
                    .changes
                    .extend(self.changes.offer(id, Pending { item, at_us }, now));
            }
        }
        false
    }

    fn on_answer(&mut self, fanout: &Fanout, answer: Answer, ready: &mut Ready) {
        let now = Instant::now();
        match answer {
            Answer::Newest(newest) => {
                tracing::trace!(?newest, "newest committed ids");
                self.polling = false;
                self.messages.note_newest(newest.message, now);
                self.changes.note_newest(newest.change, now);
            }
            Answer::NewestFailed => {
                tracing::debug!("cannot read the newest ids");
                self.polling = false;
            }
            Answer::Found {
                asked_messages,
                messages,
                asked_changes,
                changes,
            } => {
                tracing::debug!(
                    messages = messages.len(),
                    changes = changes.len(),
                    "caught up from the database"
                );
                self.asking = false;
                self.ask_backoff = delivery::CATCH_UP_AFTER;
                for item in messages {
                    let id = item.message_id;
                    if !self.messages.awaits(id) {
                        continue;
                    }
                    fanout.metrics.delivery_catchup_messages_total.inc();
                    fanout.hooks.note_event(&Event::MessagePosted(item.clone()));
                    let at_us = now_us();
                    ready
                        .messages
                        .extend(self.messages.offer(id, Pending { item, at_us }, now));
                }
                self.messages.answered(&asked_messages);
                for item in changes {
                    let id = item.change_id;
                    if !self.changes.awaits(id) {
                        continue;
                    }
                    fanout
                        .hooks
                        .note_event(&Event::VisibilityChanged(item.clone()));
                    let at_us = now_us();
                    ready
                        .changes
                        .extend(self.changes.offer(id, Pending { item, at_us }, now));
                }
                self.changes.answered(&asked_changes);
            }
            Answer::CatchUpFailed => {
                self.asking = false;
                self.next_ask = now + self.ask_backoff;
                self.ask_backoff = (self.ask_backoff * 2).min(CATCH_UP_BACKOFF_MAX);
            }
        }
    }

    /// When the earliest held item of either cursor may go out.
    fn hold_deadline(&self, now: Instant) -> Option<Instant> {
        match (
            self.messages.hold_deadline(now),
            self.changes.hold_deadline(now),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Asks the database for its newest ids, unless a question is out already.
    fn poll(&mut self) {
        if self.polling {
            return;
        }
        self.polling = true;
        let (store, answers) = (self.store.clone(), self.answers.clone());
        tokio::spawn(async move {
            let answer = match tokio::time::timeout(POLL_NEWEST, store.newest_ids()).await {
                Ok(Ok(newest)) => Answer::Newest(newest),
                _ => Answer::NewestFailed,
            };
            let _ = answers.send(answer);
        });
    }

    /// Asks the database for the ids both cursors have waited for long enough.
    fn ask(&mut self, fanout: &Fanout, now: Instant) {
        if self.asking || now < self.next_ask {
            return;
        }
        let asked_messages = self.messages.wanted(now);
        let asked_changes = self.changes.wanted(now);
        if asked_messages.is_empty() && asked_changes.is_empty() {
            return;
        }
        self.asking = true;
        fanout.metrics.delivery_catchup_queries_total.inc();
        let (store, answers) = (self.store.clone(), self.answers.clone());
        tokio::spawn(async move {
            let found = tokio::time::timeout(CATCH_UP_BACKOFF_MAX, async {
                let messages = store.visible_messages(&asked_messages).await?;
                let changes = store.visibility_changes(&asked_changes).await?;
                Ok::<_, crate::store::StoreError>((messages, changes))
            })
            .await;
            let answer = match found {
                Ok(Ok((messages, changes))) => Answer::Found {
                    asked_messages,
                    messages,
                    asked_changes,
                    changes,
                },
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot catch up missed messages");
                    Answer::CatchUpFailed
                }
                Err(_) => Answer::CatchUpFailed,
            };
            let _ = answers.send(answer);
        });
    }

    /// Hands what was released to the registry, messages first, each frame with the
    /// position its stream reaches once it is written; then publishes the new position.
    ///
    /// A frame may claim an id only when every id up to it went out before it or with
    /// it: the cursor's low mark, but below any id still to be handed over in this wake.
    fn deliver(&mut self, fanout: &Fanout, ready: Ready) {
        let message_low = self.messages.low();
        let change_low = self.changes.low();
        // Changes of this wake go out after its messages.
        let change_before = fanout.position.get().change.unwrap_or(0);
        let message_ids: Vec<i64> = ready.messages.iter().map(|p| p.item.message_id).collect();
        for (pending, claim) in ready.messages.iter().zip(claims(&message_ids, message_low)) {
            let message = &pending.item;
            // Hidden before it got here (its hide overtook it on the bus): not shown.
            if self.visibility.is_hidden(message.message_id) {
                continue;
            }
            let position = Position {
                message: claim,
                change: Some(change_before),
            };
            fanout
                .registry
                .deliver(message, pending.at_us, position, &fanout.metrics);
        }
        let change_ids: Vec<i64> = ready.changes.iter().map(|p| p.item.change_id).collect();
        for (pending, claim) in ready.changes.iter().zip(claims(&change_ids, change_low)) {
            let change = &pending.item;
            // An older change than one already sent for this message (it came late):
            // where the message stands is what the newer one said.
            if !self.visibility.record(change) {
                continue;
            }
            let position = Position {
                message: message_low,
                change: Some(claim),
            };
            fanout
                .registry
                .visibility_changed(change, pending.at_us, position, &fanout.metrics);
        }
        fanout.position.set(message_low, change_low);
    }
}

/// For items with `ids` handed over in this order, the highest id each one's frame may
/// claim: at most `low`, and below every id handed over after it.
fn claims(ids: &[i64], low: i64) -> Vec<i64> {
    let mut out = vec![low; ids.len()];
    let mut below = low;
    for (k, id) in ids.iter().enumerate().rev() {
        out[k] = below;
        below = below.min(id - 1);
    }
    out
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_claims_nothing_handed_over_after_it() {
        assert_eq!(claims(&[5, 6, 7], 7), [5, 6, 7]);
        // 9 went out above a gap (8 is missing): the low mark stays 7.
        assert_eq!(claims(&[6, 7, 9], 7), [6, 7, 7]);
        // Out of order within one wake: 4 goes out after 6.
        assert_eq!(claims(&[6, 4], 6), [3, 6]);
        assert_eq!(claims(&[], 3), Vec::<i64>::new());
    }
}
