//! A one-slot holder between a producer that must never block (Zenoh's
//! receive callback) and a consumer that may be slow (the mapping writer):
//! a newer value replaces an unconsumed older one, which is counted as dropped.
//! Memory stays bounded by one value in the slot plus the one being consumed.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Holds at most one value; see the module docs.
#[derive(Debug)]
pub struct Slot<T> {
    state: Mutex<State<T>>,
    filled: Condvar,
}

#[derive(Debug)]
struct State<T> {
    value: Option<T>,
    replaced_count: u64,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                value: None,
                replaced_count: 0,
            }),
            filled: Condvar::new(),
        }
    }
}

impl<T> Slot<T> {
    /// Puts `value` in the slot, replacing (and counting) one not yet taken,
    /// and wakes the consumer. Never blocks longer than the lock is held.
    pub fn put(&self, value: T) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.value.replace(value).is_some() {
            state.replaced_count += 1;
        }
        drop(state);
        self.filled.notify_one();
    }

    /// Puts `value` in the slot only if it is empty (and wakes the consumer);
    /// otherwise drops it and returns `false`: whatever waits came later.
    pub fn offer(&self, value: T) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.value.is_some() {
            return false;
        }
        state.value = Some(value);
        drop(state);
        self.filled.notify_one();
        true
    }

    /// Takes the value, waiting up to `timeout` for one; `None` if none came.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut state, _) = self
            .filled
            .wait_timeout_while(state, timeout, |state| state.value.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        state.value.take()
    }

    /// How many values were replaced before they were taken, so far.
    pub fn replaced_count(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replaced_count
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Slot;

    #[test]
    fn keeps_the_newest_and_counts_the_replaced() {
        let slot = Slot::default();
        assert_eq!(slot.take(Duration::ZERO), None);
        slot.put(1);
        slot.put(2);
        slot.put(3);
        assert_eq!(slot.replaced_count(), 2);
        assert_eq!(slot.take(Duration::ZERO), Some(3));
        assert_eq!(slot.take(Duration::from_millis(1)), None);
    }

    #[test]
    fn an_offer_never_replaces_what_waits() {
        let slot = Slot::default();
        slot.put("live, newer");
        assert!(!slot.offer("answer, older"));
        assert_eq!(slot.replaced_count(), 0);
        assert_eq!(slot.take(Duration::ZERO), Some("live, newer"));
        assert!(slot.offer("answer"));
        // A live value still replaces an offered one.
        slot.put("live");
        assert_eq!(slot.take(Duration::ZERO), Some("live"));
    }

    #[test]
    fn wakes_a_waiting_consumer() {
        let slot = Arc::new(Slot::default());
        let producer = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || slot.put("frame"))
        };
        assert_eq!(slot.take(Duration::from_secs(60)), Some("frame"));
        producer.join().unwrap();
    }
}
