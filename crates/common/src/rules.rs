//! What checking a regional request needs besides the request itself: the
//! region served, its places and today's date. Every regional service's API
//! layer reads dates and places through one [`Rules`], so a date or a
//! commune is refused for the same reason, in the same words, everywhere.

use chrono::NaiveDate;

use crate::date::{past_programme_date, programme_date};
use crate::geography::{AreaLevel, Geography, Location};
use crate::{Problems, Region};

/// Today's date in Mali (UTC, no daylight saving).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The region's places and today, for the checks that depend on them.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub geography: &'a Geography,
    /// The region this service serves.
    pub region: Region,
    /// Today, for "not in the future" and ages.
    pub today: NaiveDate,
}

impl<'a> Rules<'a> {
    /// The rules of `region` as of today.
    pub fn today(geography: &'a Geography, region: Region) -> Rules<'a> {
        Rules {
            geography,
            region,
            today: today(),
        }
    }

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

    /// A commune code of this service's region (no village).
    pub fn commune(&self, code: &str, field: &str, problems: &mut Problems) -> Option<Location> {
        problems.check(field, self.geography.commune_of(code, self.region))
    }

    /// A commune of this service's region (field `commune`), and a village
    /// of it (field `village`) when `village` is given.
    pub fn place(&self, commune: &str, village: Option<&str>, problems: &mut Problems) -> Option<Location> {
        if commune.is_empty() {
            problems.add("commune", "is required");
            return None;
        }
        let village_code = village.unwrap_or("");
        if village.is_some() && village_code.is_empty() {
            problems.add("village", "is required");
        }
        let resolved = problems.check("commune", self.geography.commune_of(commune, self.region))?;
        if !village_code.is_empty() && self.geography.resolve("", "", commune, village_code).is_err() {
            problems.add(
                "village",
                format!("{village_code:?} is not a known village of {commune}"),
            );
            return None;
        }
        Some(Location {
            village: village_code.to_owned(),
            ..resolved
        })
    }

    /// An area of this region (region, cercle or commune) to filter by;
    /// `None` for all (an empty code) or when refused.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(geography: &Geography) -> Rules<'_> {
        Rules {
            geography,
            region: Region::Sikasso,
            today: NaiveDate::from_ymd_opt(2018, 10, 1).unwrap(),
        }
    }

    #[test]
    fn a_place_names_the_field_that_is_wrong() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut problems = Problems::new();
        assert!(rules.place("", None, &mut problems).is_none());
        assert!(rules.place("kayes-kayes-kayes", Some(""), &mut problems).is_none());
        let fields: Vec<_> = problems
            .into_result(|| ())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["commune", "village", "commune"]);
    }

    #[test]
    fn dates_in_the_future_are_refused_only_where_they_must_have_happened() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut problems = Problems::new();
        assert!(rules.date("2018-10-02", "on", &mut problems).is_some());
        assert!(rules.past_date("2018-10-02", "on", &mut problems).is_none());
        assert_eq!(rules.date_or_today("", "on", &mut problems), Some(rules.today));
        assert_eq!(problems.into_result(|| ()).unwrap_err().len(), 1);
    }
}
