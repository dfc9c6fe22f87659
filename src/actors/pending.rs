//! What an actor has written but the journal has not yet made durable. Lookups consult this
//! first and the disk second; entries leave once the origin's durable watermark passes them.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub struct Pending<K, V> {
    map: HashMap<K, (u64, V)>,
    order: VecDeque<(u64, K)>,
}

impl<K: Hash + Eq + Clone, V> Default for Pending<K, V> {
    fn default() -> Self {
        Pending {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Pending<K, V> {
    pub fn insert(&mut self, seq: u64, key: K, value: V) {
        debug_assert!(self.order.back().is_none_or(|(s, _)| *s <= seq));
        self.order.push_back((seq, key.clone()));
        self.map.insert(key, (seq, value));
    }

    /// The value and the journal sequence that will make it durable.
    pub fn get(&self, key: &K) -> Option<(u64, &V)> {
        self.map.get(key).map(|(seq, v)| (*seq, v))
    }

    /// Forgets everything at or below `durable`: the disk has it now.
    pub fn prune(&mut self, durable: u64) {
        while let Some((seq, _)) = self.order.front() {
            if *seq > durable {
                break;
            }
            let (seq, key) = self.order.pop_front().expect("front exists");
            if let Entry::Occupied(e) = self.map.entry(key) {
                if e.get().0 == seq {
                    e.remove();
                }
            }
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, (_, v))| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_newer_versions() {
        let mut p = Pending::default();
        p.insert(1, "a", 1);
        p.insert(2, "b", 2);
        p.insert(3, "a", 3);
        p.prune(2);
        assert_eq!(p.get(&"a"), Some((3, &3)));
        assert_eq!(p.get(&"b"), None);
        p.prune(3);
        assert!(p.is_empty());
    }
}
