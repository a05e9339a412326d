//! The delivery cursor: which message ids this instance has delivered, which it is still
//! missing, and when to ask the database for them (the promise of docs/delivery.md).
//!
//! Ids are assigned at insert, not at commit, and the bus (Redis pub/sub) may delay, reorder,
//! repeat or lose events. So "the highest id sent" is no duplicate filter: a late lower id
//! would be dropped. Instead every id above `low` is in exactly one of three sets:
//! delivered (or settled), held (arrived, waiting briefly behind a fresh gap so that the
//! common case stays in id order), or missing (known to exist or to have been skipped,
//! not yet seen). An id waits behind a missing one for [`HOLD`], or until the database
//! was asked for the missing one (at most [`HOLD_MAX`]), so a message the bus lost still
//! comes out before the later ones when the database has it. Missing ids older than
//! [`CATCH_UP_AFTER`] are asked of the database,
//! which is the source of truth; an id the database still does not have after
//! [`GIVE_UP_AFTER`] was rolled back (or is hidden) and is settled without delivery.
//!
//! The cursor is a plain state machine over `(id, item, now)`; the dispatcher in
//! [`super::dispatcher`] drives it with the bus, a clock and database answers, and the property test
//! below drives it with random arrival orders, delays, repeats and losses.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

/// How long an id that arrived above a fresh gap waits for the gap to fill, so messages
/// usually go out in id order.
pub const HOLD: Duration = Duration::from_millis(50);
/// A missing id older than this is asked of the database.
pub const CATCH_UP_AFTER: Duration = Duration::from_millis(150);
/// The longest an id waits behind a missing one that the database was not asked for yet
/// (the database is slow or down): then order gives way to liveness.
pub const HOLD_MAX: Duration = Duration::from_secs(1);
/// A missing id the database still lacks after this never committed (a rolled-back insert
/// leaves a hole in the sequence forever) or is not visible: it is settled without delivery.
/// Far longer than any insert's transaction.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// Most ids tracked as missing at once; past it the oldest are given up (bounded memory
/// after a very long bus outage: those are still in the database for readers' `since`).
const MAX_MISSING: usize = 200_000;

/// Most missing ids in one catch-up request.
pub const CATCH_UP_BATCH: usize = 500;

/// See the module docs.
#[derive(Debug)]
pub struct Cursor<T> {
    /// Every id at or below it is settled; `None` until the first id or database answer.
    low: Option<i64>,
    /// The highest id known to exist (arrived, or reported by the database).
    high: i64,
    /// Ids above `low` that were delivered or given up.
    settled: BTreeSet<i64>,
    /// Ids above `low` that arrived and wait behind a missing lower id: for [`HOLD`], and
    /// beyond it until the database was asked for the missing id, at most [`HOLD_MAX`]
    /// (`Missing::blocks`).
    held: BTreeMap<i64, T>,
    /// Ids above `low` not seen yet.
    missing: BTreeMap<i64, Missing>,
}

/// What the cursor knows of an id it has not seen.
#[derive(Debug, Clone, Copy)]
struct Missing {
    /// When the gap was noticed.
    noticed: Instant,
    /// Whether the database was asked for it and did not have it.
    asked: bool,
}

impl Missing {
    /// Whether later ids should still wait for this one at `now`.
    fn blocks(&self, now: Instant) -> bool {
        now < self.noticed + HOLD || (!self.asked && now < self.noticed + HOLD_MAX)
    }

    /// When it stops blocking, if that is after `now`.
    fn blocks_until(&self, now: Instant) -> Option<Instant> {
        let until = if self.asked {
            self.noticed + HOLD
        } else {
            self.noticed + HOLD_MAX
        };
        (until > now).then_some(until)
    }
}

impl<T> Default for Cursor<T> {
    fn default() -> Self {
        Cursor {
            low: None,
            high: 0,
            settled: BTreeSet::new(),
            held: BTreeMap::new(),
            missing: BTreeMap::new(),
        }
    }
}

impl<T> Cursor<T> {
    /// A cursor for which every id up to `low` is history (the newest committed id at
    /// start: those messages are for `since` replays, not live delivery).
    pub fn starting_after(low: i64) -> Cursor<T> {
        Cursor {
            low: Some(low),
            high: low,
            ..Cursor::default()
        }
    }

    /// Sets the starting point if it is not known yet (see [`Cursor::starting_after`]).
    fn start_after(&mut self, low: i64) {
        if self.low.is_none() {
            self.low = Some(low);
            self.high = self.high.max(low);
        }
    }

    /// Accepts message `id` from the bus or the database; returns what goes out now, in
    /// id order. A repeat of an id already delivered, held or settled yields nothing.
    pub fn offer(&mut self, id: i64, item: T, now: Instant) -> Vec<T> {
        let low = *self.low.get_or_insert(id - 1);
        if id <= low || self.settled.contains(&id) || self.held.contains_key(&id) {
            return Vec::new();
        }
        self.mark_missing_through(id - 1, now);
        self.high = self.high.max(id);
        self.missing.remove(&id);
        self.held.insert(id, item);
        self.release(now)
    }

    /// Whether `id` would be delivered if offered now (not a repeat).
    pub fn awaits(&self, id: i64) -> bool {
        self.low.is_none_or(|low| id > low)
            && !self.settled.contains(&id)
            && !self.held.contains_key(&id)
    }

    /// The database's newest committed id: anything above what arrived is missing.
    pub fn note_newest(&mut self, newest: i64, now: Instant) {
        match self.low {
            None => self.start_after(newest),
            Some(_) => self.mark_missing_through(newest, now),
        }
    }

    /// Marks every id above `high` up to `last` missing, noticed `now`.
    fn mark_missing_through(&mut self, last: i64, now: Instant) {
        if last <= self.high {
            return;
        }
        // After a very long outage the gap can be huge: only its newest part is tracked,
        // everything older is given up at once.
        let from = (self.high + 1).max(last - MAX_MISSING as i64 + 1);
        if from > self.high + 1 {
            self.missing.clear();
            self.settled.clear();
            if let Some(low) = self.low.as_mut() {
                *low = (*low).max(from - 1);
            }
        }
        for gap in from..=last {
            self.missing.insert(
                gap,
                Missing {
                    noticed: now,
                    asked: false,
                },
            );
        }
        self.high = last;
    }

    /// Releases held ids that no young gap is in front of, gives up old gaps, and moves
    /// `low` over everything settled; returns the released items in id order.
    pub fn release(&mut self, now: Instant) -> Vec<T> {
        self.give_up(now);
        // The smallest missing id still worth waiting for; later ones wait behind it.
        let blocking = self
            .missing
            .iter()
            .find(|(_, missing)| missing.blocks(now))
            .map(|(&id, _)| id);
        let mut out = Vec::new();
        while let Some(entry) = self.held.first_entry() {
            let id = *entry.key();
            if blocking.is_some_and(|blocking| blocking < id) {
                break;
            }
            out.push(entry.remove());
            self.settled.insert(id);
            self.high = self.high.max(id);
        }
        self.advance_low();
        out
    }

    /// Missing ids older than [`CATCH_UP_AFTER`], oldest first, at most [`CATCH_UP_BATCH`].
    pub fn wanted(&self, now: Instant) -> Vec<i64> {
        self.missing
            .iter()
            .filter(|(_, missing)| now >= missing.noticed + CATCH_UP_AFTER)
            .map(|(&id, _)| id)
            .take(CATCH_UP_BATCH)
            .collect()
    }

    /// The database was asked for `ids` and answered: those it did not have no longer
    /// hold later ids back (beyond [`HOLD`]). Offer what it had before calling this.
    pub fn answered(&mut self, ids: &[i64]) {
        for id in ids {
            if let Some(missing) = self.missing.get_mut(id) {
                missing.asked = true;
            }
        }
    }

    /// When a held id's wait ends, if one is waiting: call [`Cursor::release`] then.
    pub fn hold_deadline(&self, now: Instant) -> Option<Instant> {
        let top = *self.held.keys().next_back()?;
        self.missing
            .range(..top)
            .filter_map(|(_, missing)| missing.blocks_until(now))
            .min()
    }

    /// Every id at or below it is settled: delivered, or known not to be coming (0 until
    /// the start is known).
    pub fn low(&self) -> i64 {
        self.low.unwrap_or(0)
    }

    /// How many ids are missing right now (for tests and logs).
    pub fn missing_len(&self) -> usize {
        self.missing.len()
    }

    fn give_up(&mut self, now: Instant) {
        let expired: Vec<i64> = self
            .missing
            .iter()
            .filter(|(_, missing)| now >= missing.noticed + GIVE_UP_AFTER)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.missing.remove(&id);
            self.settled.insert(id);
        }
    }

    fn advance_low(&mut self) {
        let Some(low) = self.low.as_mut() else { return };
        while let Some(&first) = self.settled.first() {
            if first > *low + 1 {
                break;
            }
            self.settled.pop_first();
            *low = (*low).max(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn in_order_ids_pass_straight_through() {
        let t = Instant::now();
        let mut c = Cursor::starting_after(4);
        assert_eq!(c.offer(5, 5, t), [5]);
        assert_eq!(c.offer(6, 6, t), [6]);
        assert_eq!(c.offer(6, 6, t), Vec::<i64>::new(), "a repeat is dropped");
        assert_eq!(c.hold_deadline(t), None);
    }

    #[test]
    fn an_early_id_waits_briefly_for_the_missing_one() {
        let t = Instant::now();
        let mut c = Cursor::starting_after(1);
        assert!(c.offer(3, 3, t).is_empty());
        assert!(c.offer(4, 4, t).is_empty());
        assert_eq!(c.hold_deadline(t), Some(t + HOLD_MAX));
        assert_eq!(c.offer(2, 2, at(t, 10)), [2, 3, 4]);
        assert_eq!(c.hold_deadline(t), None);
    }

    #[test]
    fn a_late_id_is_delivered_once_after_the_hold_released_higher_ones() {
        let t = Instant::now();
        let mut c = Cursor::starting_after(1);
        assert!(c.offer(3, 3, t).is_empty());
        assert!(c.release(at(t, 60)).is_empty(), "2 was not asked for yet");
        assert_eq!(c.wanted(at(t, 100)), Vec::<i64>::new());
        assert_eq!(c.wanted(at(t, 200)), [2]);
        c.answered(&[2]);
        assert_eq!(c.release(at(t, 200)), [3], "the database lacks 2 for now");
        assert_eq!(c.offer(2, 2, at(t, 300)), [2]);
        assert_eq!(c.offer(2, 2, at(t, 300)), Vec::<i64>::new());
        assert_eq!(c.offer(3, 3, at(t, 300)), Vec::<i64>::new());
    }

    #[test]
    fn the_database_reveals_ids_the_bus_never_brought() {
        let t = Instant::now();
        let mut c: Cursor<i64> = Cursor::starting_after(10);
        c.note_newest(13, t);
        assert_eq!(c.wanted(at(t, 200)), [11, 12, 13]);
        assert!(
            c.offer(12, 12, at(t, 210)).is_empty(),
            "11 may still be found"
        );
        assert_eq!(c.wanted(at(t, 210)), [11, 13]);
        c.answered(&[11, 13]);
        assert_eq!(c.release(at(t, 220)), [12], "the database lacks 11 for now");
    }

    #[test]
    fn a_gap_that_never_fills_is_given_up() {
        let t = Instant::now();
        let mut c = Cursor::starting_after(0);
        c.offer(2, 2, t);
        assert_eq!(c.release(t + HOLD_MAX), [2]);
        assert_eq!(c.missing_len(), 1);
        c.release(t + GIVE_UP_AFTER);
        assert_eq!(c.missing_len(), 0);
        assert_eq!(c.low, Some(2));
        assert!(c.offer(1, 1, t + GIVE_UP_AFTER).is_empty());
    }

    /// One committed message as the simulation sees it.
    #[derive(Debug, Clone)]
    struct Committed {
        id: i64,
        /// When the database has it (ms).
        commit_ms: u64,
        /// When the bus brings it (ms), if ever; a repeat comes later if set.
        arrivals: Vec<u64>,
    }

    fn committed() -> impl Strategy<Value = Vec<Committed>> {
        // Up to 60 ids, some never committed (rolled back); each committed one arrives
        // 0..3 times with delays, so the bus loses, repeats and reorders.
        proptest::collection::vec(
            (
                any::<bool>(),
                0u64..2_000,
                0u64..400,
                proptest::collection::vec(0u64..1_500, 0..3),
            ),
            1..60,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .filter(|(_, (rolled_back, ..))| !rolled_back)
                .map(|(i, (_, start, commit_delay, delays))| {
                    let commit_ms = start + commit_delay;
                    Committed {
                        id: i as i64 + 1,
                        commit_ms,
                        arrivals: delays.into_iter().map(|d| commit_ms + d).collect(),
                    }
                })
                .collect()
        })
    }

    proptest! {
        /// Any arrival order, delay, repeat or loss of the same committed ids gives each id
        /// exactly once, with the database (polled and asked as the dispatcher does) filling
        /// in what the bus lost.
        #[test]
        fn each_committed_id_is_delivered_exactly_once(rows in committed(), poll_ms in 50u64..1_000) {
            let t0 = Instant::now();
            let mut cursor: Cursor<i64> = Cursor::starting_after(0);
            let mut delivered: Vec<i64> = Vec::new();
            let mut arrivals: Vec<(u64, i64)> = rows
                .iter()
                .flat_map(|c| c.arrivals.iter().map(move |&ms| (ms, c.id)))
                .collect();
            arrivals.sort();
            let db = |now_ms: u64| rows.iter().filter(move |c| c.commit_ms <= now_ms);
            let end_ms = 4_000 + GIVE_UP_AFTER.as_millis() as u64;
            let mut next_arrival = 0;
            // 10 ms steps of simulated time.
            for now_ms in (0..end_ms).step_by(10) {
                let now = at(t0, now_ms);
                while next_arrival < arrivals.len() && arrivals[next_arrival].0 <= now_ms {
                    let id = arrivals[next_arrival].1;
                    delivered.extend(cursor.offer(id, id, now));
                    next_arrival += 1;
                }
                if now_ms % poll_ms < 10 {
                    if let Some(newest) = db(now_ms).map(|c| c.id).max() {
                        cursor.note_newest(newest, now);
                    }
                }
                if now_ms % 100 == 0 {
                    let wanted = cursor.wanted(now);
                    for c in db(now_ms).filter(|c| wanted.contains(&c.id)) {
                        delivered.extend(cursor.offer(c.id, c.id, now));
                    }
                    cursor.answered(&wanted);
                }
                delivered.extend(cursor.release(now));
            }
            let mut expected: Vec<i64> = rows.iter().map(|c| c.id).collect();
            expected.sort();
            let mut got = delivered.clone();
            got.sort();
            prop_assert_eq!(got, expected, "delivered in this order: {:?}", delivered);
            prop_assert_eq!(cursor.missing_len(), 0);
        }
    }
}
