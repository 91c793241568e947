//! The checks every command shares, on values already out of the wire
//! format: dates, places of the region, codes and registry IDs. The API
//! layer (`grpc::parse`) calls them field by field, collecting every
//! problem with its field's name.

use jigi_common::{MemberId, Problems};

pub use jigi_common::Rules;

/// A code chosen by the region or an organisation: 1 to 64 lower-case
/// ASCII letters, digits, `-`, `_` or `.`.
pub fn code(text: &str) -> Result<String, String> {
    jigi_common::validation::code(text, "a code")
}

/// A list of registry IDs of people: 1 to `max`, each valid, no repeats.
/// Problems name the list entry (`member_ids[3]`).
pub fn member_ids(ids: &[String], max: usize, problems: &mut Problems) -> Vec<MemberId> {
    if ids.is_empty() {
        problems.add("member_ids", "at least one person is required");
    }
    if ids.len() > max {
        problems.add(
            "member_ids",
            format!("{} people; at most {max} in one request", ids.len()),
        );
    }
    let mut seen = std::collections::HashSet::new();
    let mut valid = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("member_ids[{i}]");
        if let Some(id) = problems.check(&field, MemberId::parse(id)) {
            if !seen.insert(id.clone()) {
                problems.add(field, format!("{id} is listed twice"));
            } else {
                valid.push(id);
            }
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_lists_of_ids_are_checked_and_bad_entries_named() {
        assert!(code("sanando-piste-1").is_ok());
        assert!(code("Sanando Piste").is_err());
        let mut problems = Problems::new();
        let (a, b) = (MemberId::issue(), MemberId::issue());
        let given = [a.to_string(), b.to_string(), a.to_string(), String::new(), "m-1".into()];
        let ids = member_ids(&given, 10, &mut problems);
        assert_eq!(ids, vec![a, b]);
        let fields: Vec<String> = problems.into_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["member_ids[2]", "member_ids[3]", "member_ids[4]"]);
    }
}
