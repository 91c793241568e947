//! Turning what a client sends into valid domain values (wire → domain).
//! Every problem is reported with the path of its field, all at once, and
//! nothing is built unless everything is valid. The commands of [`crate::app`]
//! receive the API's requests and parse them here.

use chrono::{Datelike, NaiveDate};
use jigi_common::date::{past_programme_date, programme_date};
use jigi_common::geography::{AreaLevel, Geography};
use jigi_common::{Problems, Region};
use jigi_proto::nutrition as pn;

use crate::domain::model::{Location, Rations};
use crate::domain::stock::LossReason;

/// Most grams one receipt may bring (10,000 tonnes).
pub const MAX_RECEIPT_GRAMS: i64 = 10_000_000_000;
/// Most lines in one distribution batch.
pub const MAX_BATCH_LINES: usize = 10_000;
/// Longest lot number, warehouse code or waybill kept.
pub const MAX_CODE_CHARS: usize = 64;
/// Longest free text (notes).
pub const MAX_NOTE_CHARS: usize = 500;

/// What validation needs to know besides the request.
pub struct Rules<'a> {
    pub geography: &'a Geography,
    /// The region this service serves.
    pub region: Region,
    /// Today, for "not in the future".
    pub today: NaiveDate,
}

/// A round that passed validation.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub year: i32,
    pub number: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Sorted by commune code, without repeats.
    pub communes: Vec<Location>,
    pub rations: Rations,
}

impl Rules<'_> {
    /// A required date, `YYYY-MM-DD`, from 2000 on.
    pub fn date(&self, text: &str, field: &str, problems: &mut Problems) -> Option<NaiveDate> {
        problems.check(field, programme_date(text))
    }

    /// A required date that is not in the future (something that happened).
    pub fn past_date(&self, text: &str, field: &str, problems: &mut Problems) -> Option<NaiveDate> {
        problems.check(field, past_programme_date(text, self.today))
    }

    /// An optional date: today when empty.
    pub fn date_or_today(&self, text: &str, field: &str, problems: &mut Problems) -> Option<NaiveDate> {
        if text.is_empty() {
            Some(self.today)
        } else {
            self.date(text, field, problems)
        }
    }

    /// A commune code of this service's region.
    pub fn commune(&self, code: &str, field: &str, problems: &mut Problems) -> Option<Location> {
        let resolved = problems.check(field, self.geography.commune_of(code, self.region))?;
        Some(Location {
            region: resolved.region,
            cercle: resolved.cercle,
            commune: resolved.commune,
            village: String::new(),
        })
    }

    /// An area of this region (region, cercle or commune) to filter by; `None` for all.
    pub fn area(&self, code: &str, field: &str, problems: &mut Problems) -> Option<(AreaLevel, String)> {
        if code.is_empty() {
            return None;
        }
        match self.geography.get(code) {
            Some(area) if area.region() != self.region => {
                problems.add(field, format!("{code} is outside the region of {}", self.region.name()));
                None
            }
            Some(area) if area.level == AreaLevel::Village => {
                problems.add(field, "must be a region, cercle or commune code");
                None
            }
            Some(area) => Some((area.level, code.to_owned())),
            None => {
                problems.add(field, format!("unknown geography code {code:?}"));
                None
            }
        }
    }

    /// Checks a round to open.
    pub fn round(&self, request: &pn::OpenRoundRequest, problems: &mut Problems) -> Option<NewRound> {
        let year = problems.check(
            "year",
            if (2000..=2100).contains(&request.year) {
                Ok(request.year)
            } else {
                Err("must be a year from 2000 to 2100".to_owned())
            },
        );
        let number = problems.check(
            "number",
            if (1..=12).contains(&request.number) {
                Ok(request.number)
            } else {
                Err("must be from 1 to 12".to_owned())
            },
        );
        let starts_on = self.date(&request.starts_on, "starts_on", problems);
        let ends_on = self.date(&request.ends_on, "ends_on", problems);
        if let (Some(year), Some(starts)) = (year, starts_on)
            && starts.year() != year
        {
            problems.add("starts_on", format!("{starts} is not in the round's year {year}"));
        }
        if let (Some(starts), Some(ends)) = (starts_on, ends_on) {
            if ends < starts {
                problems.add("ends_on", format!("{ends} is before starts_on {starts}"));
            } else if (ends - starts).num_days() > 366 {
                problems.add("ends_on", "a round lasts at most 366 days");
            }
        }
        if request.communes.is_empty() {
            problems.add("communes", "at least one pilot commune is required");
        }
        let mut communes: Vec<Location> = Vec::with_capacity(request.communes.len());
        for (index, code) in request.communes.iter().enumerate() {
            let field = format!("communes[{index}]");
            if communes.iter().any(|c| &c.commune == code) {
                problems.add(field, format!("{code} is listed twice"));
                continue;
            }
            if let Some(location) = self.commune(code, &field, problems) {
                communes.push(location);
            }
        }
        communes.sort_by(|a, b| a.commune.cmp(&b.commune));
        let rations = match &request.rations {
            None => {
                problems.add("rations", "is required");
                None
            }
            Some(r) => {
                let mut grams = |field: &str, value: i64| {
                    problems.check(
                        format!("rations.{field}"),
                        if (1..=Rations::MAX_GRAMS).contains(&value) {
                            Ok(value)
                        } else {
                            Err(format!("must be from 1 to {} grams", Rations::MAX_GRAMS))
                        },
                    )
                };
                let child = grams("child_grams", r.child_grams);
                let pregnant = grams("pregnant_woman_grams", r.pregnant_woman_grams);
                let lactating = grams("lactating_woman_grams", r.lactating_woman_grams);
                Some(Rations {
                    child: child.unwrap_or_default(),
                    pregnant_woman: pregnant.unwrap_or_default(),
                    lactating_woman: lactating.unwrap_or_default(),
                })
            }
        };
        if !problems.is_empty() {
            return None;
        }
        Some(NewRound {
            year: year?,
            number: number?,
            starts_on: starts_on?,
            ends_on: ends_on?,
            communes,
            rations: rations?,
        })
    }
}

/// A loss reason: the API's `LossReason`, `None` for unspecified or unknown values.
pub fn loss_reason(value: i32) -> Option<LossReason> {
    match pn::LossReason::try_from(value).ok()? {
        pn::LossReason::Unspecified => None,
        pn::LossReason::Damaged => Some(LossReason::Damaged),
        pn::LossReason::Expired => Some(LossReason::Expired),
        pn::LossReason::Spoiled => Some(LossReason::Spoiled),
        pn::LossReason::Theft => Some(LossReason::Theft),
        pn::LossReason::Other => Some(LossReason::Other),
    }
}

/// A warehouse code: 1 to 64 lower-case ASCII letters, digits, `-`, `_` or `.`.
pub fn warehouse_id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is required".into());
    }
    if text.len() > MAX_CODE_CHARS
        || !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "{text:?} is not a warehouse code: 1 to {MAX_CODE_CHARS} lower-case ASCII letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(text.to_owned())
}

/// A supplier's lot number: 1 to 64 printable characters, trimmed.
pub fn lot_number(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    if trimmed.chars().count() > MAX_CODE_CHARS || trimmed.chars().any(char::is_control) {
        return Err(format!("must be 1 to {MAX_CODE_CHARS} printable characters"));
    }
    Ok(trimmed.to_owned())
}

/// A registry ID (a UUID), as the registry's events give them.
pub fn registry_id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is required".into());
    }
    uuid::Uuid::parse_str(text)
        .map(|_| text.to_owned())
        .map_err(|_| "is not a registry ID (a UUID)".to_owned())
}

/// Grams moved: from 1 to `max`.
pub fn grams(value: i64, max: i64) -> Result<i64, String> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be from 1 to {max} grams"))
    }
}

/// A free text of at most `max` characters, trimmed.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err("contains control characters".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(geography: &Geography) -> Rules<'_> {
        Rules {
            geography,
            region: Region::Segou,
            today: "2018-10-15".parse().unwrap(),
        }
    }

    fn fields(problems: Problems) -> Vec<String> {
        problems.into_errors().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_round_names_every_bad_field() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut problems = Problems::new();
        let request = pn::OpenRoundRequest {
            year: 2018,
            number: 13,
            starts_on: "2019-10-01".into(),
            ends_on: "2019-09-01".into(),
            communes: vec![
                "segou.baroueli.sanando".into(),
                "sikasso.yanfolila.gouanan".into(),
                "segou.baroueli.sanando".into(),
                "nowhere".into(),
            ],
            rations: Some(pn::Rations {
                child_grams: 0,
                pregnant_woman_grams: 4_500,
                lactating_woman_grams: 200_000,
            }),
        };
        assert!(rules.round(&request, &mut problems).is_none());
        assert_eq!(
            fields(problems),
            [
                "number",
                "starts_on",
                "ends_on",
                "communes[1]",
                "communes[2]",
                "communes[3]",
                "rations.child_grams",
                "rations.lactating_woman_grams"
            ]
        );
    }

    #[test]
    fn a_valid_round_has_sorted_communes() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut communes: Vec<String> = geography.communes("segou").take(2).map(|a| a.code.clone()).collect();
        communes.reverse();
        let mut problems = Problems::new();
        let round = rules
            .round(
                &pn::OpenRoundRequest {
                    year: 2018,
                    number: 2,
                    starts_on: "2018-07-01".into(),
                    ends_on: "2018-09-30".into(),
                    communes: communes.clone(),
                    rations: Some(pn::Rations {
                        child_grams: 3_000,
                        pregnant_woman_grams: 4_500,
                        lactating_woman_grams: 4_500,
                    }),
                },
                &mut problems,
            )
            .expect("valid");
        assert_eq!(round.communes[0].commune, communes[1]);
        assert_eq!(round.communes[0].cercle.split('.').count(), 2);
    }

    #[test]
    fn codes_and_quantities() {
        assert!(warehouse_id("sanando-1").is_ok());
        assert!(warehouse_id("Sanando 1").is_err());
        assert!(warehouse_id("").is_err());
        assert_eq!(lot_number("  LOT 2018/04-A ").unwrap(), "LOT 2018/04-A");
        assert!(lot_number("a\tb").is_err());
        assert!(registry_id("not-a-uuid").is_err());
        assert!(grams(0, 10).is_err());
        assert!(grams(11, 10).is_err());
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut problems = Problems::new();
        assert!(rules.past_date("2018-10-16", "on", &mut problems).is_none());
        assert!(rules.past_date("2018-10-15", "on", &mut problems).is_some());
        assert_eq!(fields(problems), ["on"]);
    }
}
