//! Reading: who is eligible, and how a round went.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use jigi_common::MemberId;
use jigi_common::date::format_date;
use jigi_common::geography::AreaLevel;
use jigi_server::CommandError;
use jigi_storage::{Conn, StorageError};

use super::Nutrition;
use crate::domain::eligibility::{Household, Person, eligibility};
use crate::domain::model::{CommuneFigures, Group, GroupCounts, Location, Reason, Refusal, Round, RoundReport};
use crate::storage;

/// People read at once while scanning for eligible ones.
const SCAN_CHUNK: usize = 5_000;

/// Whether a person may receive on a date.
#[derive(Debug, Clone)]
pub struct Eligibility {
    /// What the registry told of the person and household; `None` when unknown.
    pub known: Option<(Person, Household)>,
    pub outcome: Result<Group, Refusal>,
}

/// Which eligible people to list: in an area of the region (`None`: all of
/// it) on a day, a page at a time. `area_code` is the area as the client
/// named it, which a page token is bound to.
#[derive(Debug, Clone)]
pub struct BeneficiaryQuery {
    pub area: Option<(AreaLevel, String)>,
    pub area_code: String,
    pub on: NaiveDate,
    pub page_size: usize,
}

/// A page of eligible people.
#[derive(Debug, Clone)]
pub struct BeneficiaryPage {
    pub beneficiaries: Vec<(Person, Household, Group)>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl Nutrition {
    /// Whether a person may receive the PNP on `on`.
    pub async fn check_eligibility(&self, member_id: MemberId, on: NaiveDate) -> Result<Eligibility, CommandError> {
        let wanted = member_id.clone();
        let known = self
            .db
            .read(move |conn| {
                storage::projection::people(conn, &[wanted.as_str()]).map(|mut found| found.remove(wanted.as_str()))
            })
            .await?;
        let outcome = match &known {
            None => Err(Refusal::new(
                Reason::UnknownPerson,
                format!("person {member_id} is not known from the registry"),
            )),
            Some((person, household)) => eligibility(person, household, on),
        };
        Ok(Eligibility { known, outcome })
    }

    /// People eligible on a day in an area, a page at a time, by member ID.
    pub async fn beneficiaries(
        &self,
        query: BeneficiaryQuery,
        page_token: &str,
    ) -> Result<BeneficiaryPage, CommandError> {
        let BeneficiaryQuery {
            area: area_filter,
            area_code: area,
            on,
            page_size,
        } = query;
        let scope = format!("{area}|{}", format_date(on));
        let mut after = match page_token {
            "" => None,
            token => Some(decode_token(token, &scope)?),
        };

        let mut found = self
            .db
            .read(move |conn| {
                let mut found = Vec::with_capacity(page_size + 1);
                // One more than a page, to know whether another page follows.
                'scan: loop {
                    let chunk =
                        storage::projection::people_in_area(conn, area_filter.as_ref(), after.as_deref(), SCAN_CHUNK)?;
                    let exhausted = chunk.len() < SCAN_CHUNK;
                    for (person, household) in chunk {
                        after = Some(person.member_id.clone());
                        if let Ok(group) = eligibility(&person, &household, on) {
                            found.push((person, household, group));
                            if found.len() > page_size {
                                break 'scan;
                            }
                        }
                    }
                    if exhausted {
                        break;
                    }
                }
                Ok::<_, StorageError>(found)
            })
            .await?;
        let next_page_token = if found.len() > page_size {
            found.truncate(page_size);
            let last = &found.last().expect("a full page has a last").0.member_id;
            encode_token(&scope, last)
        } else {
            String::new()
        };
        Ok(BeneficiaryPage {
            beneficiaries: found,
            next_page_token,
        })
    }
}

/// A round's report: people eligible on its first day (planned) and people
/// who received (reached) by group, flour given and stock left, per pilot
/// commune.
pub(crate) fn round_report(conn: &mut Conn, round: &Round) -> Result<RoundReport, StorageError> {
    let planned_on = round.starts_on;
    let reached = storage::distributions::reached_by_commune(conn, &round.round_id)?;
    let stock = storage::stock::on_hand_by_commune(conn)?;
    let mut communes = Vec::with_capacity(round.communes.len());
    for location in &round.communes {
        let planned = planned_in(conn, &location.commune, planned_on)?;
        let (reached, distributed) = reached.get(&location.commune).copied().unwrap_or_default();
        communes.push(CommuneFigures {
            location: location.clone(),
            planned,
            reached,
            distributed_grams: distributed,
            stock_left_grams: stock.get(&location.commune).copied().unwrap_or_default(),
        });
    }
    let total = CommuneFigures {
        location: Location {
            region: round.region,
            cercle: String::new(),
            commune: String::new(),
            village: String::new(),
        },
        planned: communes
            .iter()
            .fold(GroupCounts::default(), |sum, c| sum.plus(&c.planned)),
        reached: communes
            .iter()
            .fold(GroupCounts::default(), |sum, c| sum.plus(&c.reached)),
        distributed_grams: communes.iter().map(|c| c.distributed_grams).sum(),
        stock_left_grams: communes.iter().map(|c| c.stock_left_grams).sum(),
    };
    Ok(RoundReport {
        round: round.clone(),
        planned_on,
        communes,
        total,
    })
}

/// People of a commune eligible on `on`, by group, read a chunk at a time.
fn planned_in(conn: &mut Conn, commune: &str, on: NaiveDate) -> Result<GroupCounts, StorageError> {
    let area = (AreaLevel::Commune, commune.to_owned());
    let mut counts = GroupCounts::default();
    let mut after: Option<String> = None;
    loop {
        let chunk = storage::projection::people_in_area(conn, Some(&area), after.as_deref(), SCAN_CHUNK)?;
        let exhausted = chunk.len() < SCAN_CHUNK;
        for (person, household) in &chunk {
            if let Ok(group) = eligibility(person, household, on) {
                counts.add(group, 1);
            }
        }
        after = chunk.last().map(|(p, _)| p.member_id.clone());
        if exhausted {
            return Ok(counts);
        }
    }
}

fn encode_token(scope: &str, last_member_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1|{scope}|{last_member_id}"))
}

fn decode_token(token: &str, scope: &str) -> Result<String, CommandError> {
    let invalid = |why: &str| CommandError::invalid("page_token", why.to_owned());
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid("is not a token this service issued"))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("is not a token this service issued"))?;
    let Some(rest) = text.strip_prefix("1|") else {
        return Err(invalid("is not a token this service issued"));
    };
    match rest.rsplit_once('|') {
        Some((issued_for, last)) if uuid::Uuid::parse_str(last).is_ok() => {
            if issued_for != scope {
                return Err(invalid(
                    "was issued for another area or date; start again without a token",
                ));
            }
            Ok(last.to_owned())
        }
        _ => Err(invalid("is not a token this service issued")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_area_and_date() {
        let id = uuid::Uuid::now_v7().to_string();
        let token = encode_token("segou|2018-10-01", &id);
        assert_eq!(decode_token(&token, "segou|2018-10-01").unwrap(), id);
        assert!(decode_token(&token, "segou|2018-10-02").is_err());
        assert!(decode_token("garbage", "segou|2018-10-01").is_err());
    }
}
