//! Verified tokens, remembered until they expire.
//!
//! A client sends the same bearer token with every call for as long as it
//! lives; checking its signature each time is the costly part of a call's
//! access check. The cache maps a token's SHA-256 to the identity it proved,
//! and answers only while the token is before its `exp` (no leeway: past it,
//! the full check decides, leeway included). It is bounded, and emptied
//! whenever the key set changes, so a key taken out of the set stops being
//! accepted at once rather than when its tokens expire.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::Identity;

/// How many tokens are remembered at most.
pub const CAPACITY: usize = 10_000;

/// A token's SHA-256: the cache never holds tokens themselves.
pub type TokenHash = [u8; 32];

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

pub struct TokenCache {
    capacity: usize,
    /// The key set generation the entries were verified with.
    generation: u64,
    entries: HashMap<TokenHash, Entry>,
}

struct Entry {
    /// Shared: every call of the token gets it without copying it.
    identity: Arc<Identity>,
    /// The token's `exp`, in seconds since the Unix epoch.
    expires_at: u64,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity: capacity.max(1),
            generation: 0,
            entries: HashMap::new(),
        }
    }

    /// The identity `token` proved, if it is remembered and unexpired at `now`.
    pub fn get(&mut self, token: &TokenHash, now: u64) -> Option<Arc<Identity>> {
        let entry = self.entries.get(token)?;
        if now < entry.expires_at {
            return Some(Arc::clone(&entry.identity));
        }
        self.entries.remove(token);
        None
    }

    /// Remembers a token verified with the keys of `generation`, unless the
    /// keys have changed since (the verification raced a refresh).
    pub fn insert(&mut self, token: TokenHash, identity: Arc<Identity>, expires_at: u64, generation: u64, now: u64) {
        if generation != self.generation || now >= expires_at {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&token) {
            self.entries.retain(|_, entry| now < entry.expires_at);
            if self.entries.len() >= self.capacity {
                // Full of live tokens: a tenth goes (whichever the map lists
                // first, which its random hasher makes arbitrary), so the
                // inserts that follow need no sweep.
                let excess = self.entries.len() + 1 - self.capacity + self.capacity / 10;
                let evicted: Vec<TokenHash> = self.entries.keys().take(excess).copied().collect();
                for token in evicted {
                    self.entries.remove(&token);
                }
            }
        }
        self.entries.insert(token, Entry { identity, expires_at });
    }

    /// Forgets everything: the keys are now those of `generation`.
    pub fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.entries.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::Scope;

    fn identity(subject: &str) -> Arc<Identity> {
        Arc::new(Identity {
            subject: subject.to_owned(),
            roles: BTreeSet::new(),
            scope: Scope::National,
            agent_code: None,
            token_id: None,
        })
    }

    #[test]
    fn an_entry_lives_until_the_tokens_exp_and_no_longer() {
        let mut cache = TokenCache::new(10);
        cache.insert(hash("t"), identity("a"), 100, 0, 50);
        assert_eq!(cache.get(&hash("t"), 99).map(|i| i.subject.clone()), Some("a".into()));
        assert_eq!(cache.get(&hash("t"), 100), None);
        assert_eq!(cache.len(), 0, "an expired entry is dropped when met");
        // A token accepted within the leeway, already past its exp, is not kept.
        cache.insert(hash("late"), identity("b"), 100, 0, 120);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_verification_from_before_a_key_change_is_not_kept() {
        let mut cache = TokenCache::new(10);
        cache.insert(hash("t"), identity("a"), 100, 0, 50);
        cache.reset(1);
        assert_eq!(cache.get(&hash("t"), 50), None);
        // Verified with generation 0's keys, finished after the change.
        cache.insert(hash("t"), identity("a"), 100, 0, 50);
        assert_eq!(cache.get(&hash("t"), 50), None);
        cache.insert(hash("t"), identity("a"), 100, 1, 50);
        assert!(cache.get(&hash("t"), 50).is_some());
    }

    #[test]
    fn the_cache_stays_bounded_and_drops_expired_entries_first() {
        let mut cache = TokenCache::new(100);
        for n in 0..100 {
            cache.insert(hash(&format!("short-{n}")), identity("s"), 10, 0, 0);
        }
        assert_eq!(cache.len(), 100);
        // At 20 the short-lived entries have expired: they make room, all of them.
        for n in 0..100 {
            cache.insert(hash(&format!("long-{n}")), identity("l"), 1_000, 0, 20);
        }
        assert_eq!(cache.len(), 100);
        assert!((0..100).all(|n| cache.get(&hash(&format!("long-{n}")), 20).is_some()));
        // Full of live entries, it still never grows past its capacity.
        for n in 0..1_000 {
            cache.insert(hash(&format!("more-{n}")), identity("m"), 1_000, 0, 20);
            assert!(cache.len() <= 100);
        }
        assert!(cache.get(&hash("more-999"), 20).is_some(), "the newest entry is kept");
    }
}
