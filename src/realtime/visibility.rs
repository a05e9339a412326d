//! Where messages changed lately stand, for the dispatcher (`super::dispatcher`): a
//! message whose hide overtook it on the bus is not shown, and an older hide or unhide
//! that comes late does not undo a newer one (docs/delivery.md, "How", point 4).

use crate::store::VisibilityChange;

/// Where messages changed lately stand: the last change sent for each, so a message whose
/// hide arrives before the message itself is not shown, and an older change that comes
/// late does not undo a newer one. Bounded: an older change has long been settled.
#[derive(Default)]
pub struct RecentVisibility {
    last: std::collections::HashMap<i64, (i64, bool)>,
    order: std::collections::VecDeque<i64>,
}

impl RecentVisibility {
    const CAPACITY: usize = 10_000;

    /// Records `change`; `false` if a newer change of its message was recorded before.
    pub fn record(&mut self, change: &VisibilityChange) -> bool {
        let id = change.message.message_id;
        match self.last.get(&id) {
            Some(&(last, _)) if last > change.change_id => return false,
            Some(_) => {}
            None => {
                self.order.push_back(id);
                if self.order.len() > Self::CAPACITY {
                    if let Some(oldest) = self.order.pop_front() {
                        self.last.remove(&oldest);
                    }
                }
            }
        }
        self.last.insert(id, (change.change_id, change.hidden));
        true
    }

    pub fn is_hidden(&self, message_id: i64) -> bool {
        self.last
            .get(&message_id)
            .is_some_and(|&(_, hidden)| hidden)
    }
}
