//! The hash chain, without I/O: how an entry's hash is made and how a
//! sequence of entries is checked.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The `previous_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is recorded of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub recorded_at: DateTime<Utc>,
    pub subject: String,
    pub roles: String,
    pub scope: String,
    pub service_area: String,
    pub method: String,
    pub request_id: String,
    pub trace_id: String,
    /// gRPC status code name: `OK`, `PERMISSION_DENIED`…
    pub outcome: String,
}

/// A record with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sequence: i64,
    pub record: Record,
    pub previous_hash: String,
    pub hash: String,
}

impl Entry {
    /// Chains `record` after an entry of `sequence - 1` whose hash is `previous_hash`.
    pub fn chain(sequence: i64, record: Record, previous_hash: &str) -> Entry {
        let hash = hash(sequence, &record, previous_hash);
        Entry {
            sequence,
            record,
            previous_hash: previous_hash.to_owned(),
            hash,
        }
    }
}

/// SHA-256 over the sequence, every field and the previous hash, each
/// length-prefixed so that no two different entries hash the same text.
pub fn hash(sequence: i64, record: &Record, previous_hash: &str) -> String {
    let mut digest = Sha256::new();
    let recorded_at = jigi_storage::timestamp::format(record.recorded_at);
    let sequence = sequence.to_string();
    let fields = [
        sequence.as_str(),
        recorded_at.as_str(),
        &record.subject,
        &record.roles,
        &record.scope,
        &record.service_area,
        &record.method,
        &record.request_id,
        &record.trace_id,
        &record.outcome,
        previous_hash,
    ];
    for field in fields {
        digest.update((field.len() as u64).to_be_bytes());
        digest.update(field.as_bytes());
    }
    hex::encode(digest.finalize())
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub sequence: i64,
    pub problem: &'static str,
}

/// Checks entries one after another, in sequence order.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    expected_sequence: i64,
    previous_hash: String,
    checked: i64,
}

impl Default for ChainCheck {
    fn default() -> ChainCheck {
        ChainCheck {
            expected_sequence: 1,
            previous_hash: GENESIS.to_owned(),
            checked: 0,
        }
    }
}

impl ChainCheck {
    /// Checks the next entry.
    pub fn next(&mut self, entry: &Entry) -> Result<(), Break> {
        let broken = |problem| Break {
            sequence: entry.sequence,
            problem,
        };
        if entry.sequence != self.expected_sequence {
            return Err(Break {
                sequence: self.expected_sequence,
                problem: "entry missing: the sequence has a gap",
            });
        }
        if entry.previous_hash != self.previous_hash {
            return Err(broken("previous_hash does not match the entry before"));
        }
        if hash(entry.sequence, &entry.record, &entry.previous_hash) != entry.hash {
            return Err(broken("hash does not match the entry's content"));
        }
        self.expected_sequence += 1;
        self.previous_hash = entry.hash.clone();
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> i64 {
        self.checked
    }

    /// The hash of the last entry checked (the genesis value before any).
    pub fn head(&self) -> &str {
        &self.previous_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: &str) -> Record {
        Record {
            recorded_at: "2018-10-01T08:00:00Z".parse().unwrap(),
            subject: subject.into(),
            roles: "payment_approver".into(),
            scope: "sikasso".into(),
            service_area: "sikasso".into(),
            method: "/jigi.payments.v1.PaymentsService/ApprovePaymentCycle".into(),
            request_id: "r1".into(),
            trace_id: String::new(),
            outcome: "OK".into(),
        }
    }

    fn chain(subjects: &[&str]) -> Vec<Entry> {
        let mut previous = GENESIS.to_owned();
        let mut entries = Vec::new();
        for (index, subject) in subjects.iter().enumerate() {
            let entry = Entry::chain(index as i64 + 1, record(subject), &previous);
            previous = entry.hash.clone();
            entries.push(entry);
        }
        entries
    }

    fn check(entries: &[Entry]) -> Result<i64, Break> {
        let mut check = ChainCheck::default();
        for entry in entries {
            check.next(entry)?;
        }
        Ok(check.checked())
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(check(&chain(&["awa", "moussa", "fanta"])), Ok(3));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn an_edited_field_is_found_at_its_entry() {
        let mut entries = chain(&["awa", "moussa", "fanta"]);
        entries[1].record.outcome = "PERMISSION_DENIED".into();
        assert_eq!(check(&entries).unwrap_err().sequence, 2);
    }

    #[test]
    fn an_edit_that_also_rewrites_the_hash_breaks_the_next_link() {
        let mut entries = chain(&["awa", "moussa", "fanta"]);
        entries[1].record.subject = "someone-else".into();
        entries[1].hash = hash(2, &entries[1].record, &entries[1].previous_hash);
        let broken = check(&entries).unwrap_err();
        assert_eq!(broken.sequence, 3);
        assert!(broken.problem.contains("previous_hash"));
    }

    #[test]
    fn a_removed_entry_shows_as_a_gap() {
        let mut entries = chain(&["awa", "moussa", "fanta"]);
        entries.remove(1);
        assert_eq!(check(&entries).unwrap_err().sequence, 2);
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let mut a = record("ab");
        a.roles = "c".into();
        let mut b = record("a");
        b.roles = "bc".into();
        assert_ne!(hash(1, &a, GENESIS), hash(1, &b, GENESIS));
    }
}
