//! Reading the registry.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jigi_common::{AreaLevel, Component, HouseholdId, Problems};
use sha2::{Digest, Sha256};

use jigi_server::CommandError;

use super::{Registry, household_not_found};
use crate::domain::model::{Household, HouseholdStatus, StatusChange};
use crate::storage::{self, ListFilter};

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub households: Vec<Household>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// A listing's filter and page as asked for; the enums as the API read
/// them (an error is reported with the other fields' problems).
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub area: String,
    /// `None`: every status.
    pub status: Result<Option<HouseholdStatus>, String>,
    /// `None`: enrolled in anything or nothing.
    pub enrolled_in: Result<Option<Component>, String>,
    pub pmt_score_min: Option<f64>,
    pub pmt_score_max: Option<f64>,
    pub eligible_only: bool,
    /// 0: the default size.
    pub page_size: i32,
    pub page_token: String,
}

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1_000;

impl Registry {
    /// One household, from the cache of those read lately or the database.
    pub async fn get(&self, household_id: &HouseholdId) -> Result<Arc<Household>, CommandError> {
        let id = household_id.to_string();
        self.households
            .get_or_read(&self.db, household_id.as_str(), move |conn| {
                Ok::<_, CommandError>(storage::load(conn, &id)?)
            })
            .await?
            .ok_or_else(|| household_not_found(household_id.as_str()))
    }

    /// A household's status history, oldest first.
    pub async fn history(&self, household_id: &HouseholdId) -> Result<Vec<StatusChange>, CommandError> {
        let household_id = household_id.to_owned();
        self.db
            .read(move |conn| {
                if !storage::exists(conn, &household_id)? {
                    return Err(household_not_found(&household_id));
                }
                Ok(storage::history(conn, &household_id)?)
            })
            .await
    }

    /// A page of households matching the request's filter.
    pub async fn list(&self, request: &ListQuery) -> Result<Page, CommandError> {
        let (filter, page_size) = self.list_filter(request)?;
        let fingerprint = filter_fingerprint(&filter);
        let after = match request.page_token.as_str() {
            "" => None,
            token => Some(decode_token(token, &fingerprint)?),
        };
        self.db
            .read(move |conn| {
                let mut ids = storage::list_ids(conn, &filter, after.as_deref(), page_size + 1)?;
                let next_page_token = if ids.len() > page_size {
                    ids.truncate(page_size);
                    encode_token(&fingerprint, ids.last().expect("a full page has a last"))
                } else {
                    String::new()
                };
                let households = storage::load_many(conn, &ids)?;
                Ok(Page {
                    households,
                    next_page_token,
                })
            })
            .await
    }

    /// The households a batch selects: in `area` (of this region), and only
    /// the PMT-eligible ones if asked; refused like a listing's filter.
    pub fn selection(&self, area: &str, eligible_only: bool) -> Result<ListFilter, CommandError> {
        let request = ListQuery {
            area: area.to_owned(),
            status: Ok(None),
            enrolled_in: Ok(None),
            pmt_score_min: None,
            pmt_score_max: None,
            eligible_only,
            page_size: 0,
            page_token: String::new(),
        };
        self.list_filter(&request)
            .map(|(filter, _)| filter)
            .map_err(|err| match err {
                CommandError::Invalid(errors) => CommandError::Invalid(
                    errors
                        .into_iter()
                        .map(|mut e| {
                            e.field = format!("selection.{}", e.field);
                            e
                        })
                        .collect(),
                ),
                other => other,
            })
    }

    fn list_filter(&self, request: &ListQuery) -> Result<(ListFilter, usize), CommandError> {
        let mut problems = Problems::new();
        let area = match request.area.as_str() {
            "" => None,
            code => match self.geography.get(code) {
                Some(area) if area.region() == self.region => Some((area.level, code.to_owned())),
                Some(_) => {
                    problems.add(
                        "area",
                        format!("{code} is outside the region of {}", self.region.name()),
                    );
                    None
                }
                None => {
                    problems.add("area", format!("unknown geography code {code:?}"));
                    None
                }
            },
        };
        let status = problems.check("status", request.status.clone()).flatten();
        let enrolled_in = problems.check("enrolled_in", request.enrolled_in.clone()).flatten();
        for (field, value) in [
            ("pmt_score_min", request.pmt_score_min),
            ("pmt_score_max", request.pmt_score_max),
        ] {
            if value.is_some_and(|v| !(0.0..=100.0).contains(&v)) {
                problems.add(field, "must be between 0 and 100");
            }
        }
        if let (Some(min), Some(max)) = (request.pmt_score_min, request.pmt_score_max)
            && min > max
        {
            problems.add("pmt_score_min", "is greater than pmt_score_max");
        }
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size < 0 || size as usize > MAX_PAGE_SIZE => {
                problems.add(
                    "page_size",
                    format!("must be between 1 and {MAX_PAGE_SIZE} (0 for {DEFAULT_PAGE_SIZE})"),
                );
                DEFAULT_PAGE_SIZE
            }
            size => size as usize,
        };
        let filter = ListFilter {
            area,
            status,
            enrolled_in,
            pmt_min: request.pmt_score_min,
            pmt_max: request.pmt_score_max,
            eligible_only: request.eligible_only,
        };
        problems
            .into_result(|| (filter, page_size))
            .map_err(CommandError::Invalid)
    }

    /// The geography reference below `parent` (the whole country when empty).
    pub fn areas(&self, parent: &str) -> Result<Vec<jigi_common::Area>, CommandError> {
        if !parent.is_empty() && self.geography.get(parent).is_none() {
            return Err(CommandError::invalid(
                "parent",
                format!("unknown geography code {parent:?}"),
            ));
        }
        let under = (!parent.is_empty()).then_some(parent);
        Ok(self.geography.areas(under).cloned().collect())
    }
}

/// Ties a page token to its filter, so a token is not reused with another.
fn filter_fingerprint(filter: &ListFilter) -> String {
    let area = filter.area.as_ref().map(|(level, code)| {
        let level = match level {
            AreaLevel::Region => "region",
            AreaLevel::Cercle => "cercle",
            AreaLevel::Commune => "commune",
            AreaLevel::Village => "village",
        };
        format!("{level}:{code}")
    });
    let text = format!(
        "{area:?}|{:?}|{:?}|{:?}|{:?}|{}",
        filter.status.map(HouseholdStatus::code),
        filter.enrolled_in.map(Component::code),
        filter.pmt_min,
        filter.pmt_max,
        filter.eligible_only
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn encode_token(fingerprint: &str, last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1|{fingerprint}|{last_id}"))
}

fn decode_token(token: &str, fingerprint: &str) -> Result<String, CommandError> {
    let invalid = |why: &str| CommandError::invalid("page_token", why.to_owned());
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid("is not a token this registry issued"))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("is not a token this registry issued"))?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(issued_for), Some(last_id)) if uuid::Uuid::parse_str(last_id).is_ok() => {
            if issued_for != fingerprint {
                return Err(invalid("was issued for another filter; start again without a token"));
            }
            Ok(last_id.to_owned())
        }
        _ => Err(invalid("is not a token this registry issued")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_filter() {
        let all = filter_fingerprint(&ListFilter::default());
        let eligible = filter_fingerprint(&ListFilter {
            eligible_only: true,
            ..Default::default()
        });
        let id = uuid::Uuid::now_v7().to_string();
        let token = encode_token(&all, &id);
        assert_eq!(decode_token(&token, &all).unwrap(), id);
        assert!(decode_token(&token, &eligible).is_err());
        assert!(decode_token("not-a-token", &all).is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("1|x|not-a-uuid"), "x").is_err());
    }
}
