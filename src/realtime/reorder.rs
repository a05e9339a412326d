//! Puts messages back in id order before fan-out.
//!
//! Ids are assigned at insert but published after commit, so two concurrent posts (or two
//! instances behind Redis) can publish id 11 before id 10. Sockets drop any id at or below
//! the last one they delivered (that is how replay and live join without duplicates), so
//! an out-of-order id would be lost for them. This buffer holds an id that arrives ahead of
//! a missing one for at most [`HOLD`], releasing as soon as the gap fills; a gap that never
//! fills (a rolled-back insert, an event lost while Redis was down) costs one [`HOLD`].

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// The longest a message waits for a lower id to arrive.
pub const HOLD: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub struct Reorder<T> {
    /// The id expected next; `None` until the first message.
    next: Option<i64>,
    /// Messages that arrived ahead of `next`, by id.
    held: BTreeMap<i64, T>,
    /// When the oldest held message must go out regardless.
    deadline: Option<Instant>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next: None,
            held: BTreeMap::new(),
            deadline: None,
        }
    }
}

impl<T> Reorder<T> {
    /// Accepts message `id`; returns what can go out now, in id order.
    pub fn push(&mut self, id: i64, item: T, now: Instant) -> Vec<T> {
        let mut out = Vec::new();
        match self.next {
            // The first message, or one arriving late (after its hold expired): send it on,
            // sockets that already passed it will skip it.
            None => {
                self.next = Some(id + 1);
                out.push(item);
            }
            Some(next) if id < next => out.push(item),
            Some(next) if id == next => {
                self.next = Some(id + 1);
                out.push(item);
                self.drain_consecutive(&mut out);
            }
            Some(_) => {
                self.held.insert(id, item);
                self.deadline.get_or_insert(now + HOLD);
            }
        }
        if self.held.is_empty() {
            self.deadline = None;
        }
        out
    }

    /// When [`Reorder::expire`] should next be called.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Gives up on the gap: releases everything held, in id order.
    pub fn expire(&mut self) -> Vec<T> {
        self.deadline = None;
        let held = std::mem::take(&mut self.held);
        if let Some((&last, _)) = held.iter().next_back() {
            self.next = Some(last + 1);
        }
        held.into_values().collect()
    }

    fn drain_consecutive(&mut self, out: &mut Vec<T>) {
        while let Some(next) = self.next {
            match self.held.remove(&next) {
                Some(item) => {
                    out.push(item);
                    self.next = Some(next + 1);
                }
                None => break,
            }
        }
        // The gap that set the deadline is filled; a later one starts its own clock.
        if !self.held.is_empty() {
            self.deadline = Some(Instant::now() + HOLD);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_ids_pass_straight_through() {
        let mut r = Reorder::default();
        let now = Instant::now();
        assert_eq!(r.push(5, 5, now), [5]);
        assert_eq!(r.push(6, 6, now), [6]);
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn an_early_id_waits_for_the_missing_one() {
        let mut r = Reorder::default();
        let now = Instant::now();
        r.push(1, 1, now);
        assert!(r.push(3, 3, now).is_empty());
        assert!(r.push(4, 4, now).is_empty());
        assert!(r.deadline().is_some());
        assert_eq!(r.push(2, 2, now), [2, 3, 4]);
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn a_gap_that_never_fills_is_released_in_order() {
        let mut r = Reorder::default();
        let now = Instant::now();
        r.push(1, 1, now);
        r.push(4, 4, now);
        r.push(3, 3, now);
        assert_eq!(r.expire(), [3, 4]);
        assert_eq!(r.push(5, 5, now), [5]);
        // The missing id turning up late still goes out.
        assert_eq!(r.push(2, 2, now), [2]);
    }
}
