//! The caps on open streams (docs/protocol.md, "Refusals"): at most `MINITWIT_MAX_SOCKETS` websocket and SSE
//! streams per instance and `MINITWIT_MAX_SOCKETS_PER_IP` per client address. A stream
//! holds a [`Slot`] for as long as it lives; dropping it gives the slot back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a stream was refused; its `as_str` is the `reason` label of
/// `minitwit_ws_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The instance holds its maximum of streams.
    Instance,
    /// The client's address holds its maximum of streams.
    Address,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Instance => "max_sockets",
            Refusal::Address => "max_sockets_per_ip",
        }
    }
}

/// The open-stream counts of one instance; cheap to share.
#[derive(Debug)]
pub struct Slots {
    /// 0: no limit.
    max_total: usize,
    /// 0: no limit.
    max_per_address: usize,
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    total: usize,
    /// Only addresses with at least one open stream, so idle clients cost nothing.
    per_address: HashMap<IpAddr, usize>,
}

/// One open stream's place; gives it back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    address: Option<IpAddr>,
}

impl Slots {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max_total,
            max_per_address,
            taken: Mutex::new(Taken::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for a stream from the client at `address` (`None` when it is unknown:
    /// only the instance cap applies). The caller gives the address as the limits count
    /// it, an IPv6 client by its /64 (`limits::address_bucket`): the engine knows no
    /// request.
    pub fn take(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Slot, Refusal> {
        let mut taken = self.lock();
        if self.max_total > 0 && taken.total >= self.max_total {
            return Err(Refusal::Instance);
        }
        if let Some(address) = address {
            let held = taken.per_address.entry(address).or_default();
            if self.max_per_address > 0 && *held >= self.max_per_address {
                return Err(Refusal::Address);
            }
            *held += 1;
        }
        taken.total += 1;
        Ok(Slot {
            slots: self.clone(),
            address,
        })
    }

    /// Streams open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.lock();
        taken.total = taken.total.saturating_sub(1);
        if let Some(address) = self.address {
            if let Some(held) = taken.per_address.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    taken.per_address.remove(&address);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_per_instance_and_gives_back() {
        let slots = Slots::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = slots.take(Some(a)).expect("first");
        let _second = slots.take(Some(a)).expect("second");
        assert_eq!(slots.take(Some(a)).err(), Some(Refusal::Address));
        let _third = slots.take(Some(b)).expect("another address");
        assert_eq!(slots.take(Some(b)).err(), Some(Refusal::Instance));
        drop(first);
        let _again = slots
            .take(Some(a))
            .expect("a closed stream gives its slot back");
        assert_eq!(slots.open(), 3);
    }

    #[test]
    fn zero_means_no_limit() {
        let slots = Slots::new(0, 0);
        let held: Vec<Slot> = (0..1000)
            .map(|_| slots.take(Some([10, 0, 0, 1].into())).expect("slot"))
            .collect();
        assert_eq!(slots.open(), held.len());
    }
}
