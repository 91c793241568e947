//! Reporting periods: a quarter (`2018Q4`) or a calendar year (`2018`), the
//! notation DHIS2 uses too.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// A quarter or a calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A calendar year.
    Year(i32),
    /// A quarter of a year, 1 to 4.
    Quarter { year: i32, quarter: u8 },
}

/// Why a period code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed period {0:?}: expected a quarter like 2018Q4 or a year like 2018 (years 2000 to 2100)")]
pub struct PeriodError(pub String);

impl Period {
    /// The quarter a date falls in.
    pub fn quarter_of(date: NaiveDate) -> Period {
        Period::Quarter {
            year: date.year(),
            quarter: (date.month0() / 3 + 1) as u8,
        }
    }

    /// The year of the period.
    pub fn year(self) -> i32 {
        match self {
            Period::Year(year) | Period::Quarter { year, .. } => year,
        }
    }

    /// First day of the period.
    pub fn start(self) -> NaiveDate {
        let (year, month) = match self {
            Period::Year(year) => (year, 1),
            Period::Quarter { year, quarter } => (year, u32::from(quarter) * 3 - 2),
        };
        NaiveDate::from_ymd_opt(year, month, 1).expect("periods hold valid years")
    }

    /// Last day of the period.
    pub fn end(self) -> NaiveDate {
        let next_start = match self {
            Period::Year(year) => NaiveDate::from_ymd_opt(year + 1, 1, 1),
            Period::Quarter { year: y, quarter: 4 } => NaiveDate::from_ymd_opt(y + 1, 1, 1),
            Period::Quarter { year, quarter } => NaiveDate::from_ymd_opt(year, u32::from(quarter) * 3 + 1, 1),
        };
        next_start.and_then(|d| d.pred_opt()).expect("periods hold valid years")
    }

    /// Whether `date` falls within the period.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.start() <= date && date <= self.end()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(year) => write!(f, "{year}"),
            Period::Quarter { year, quarter } => write!(f, "{year}Q{quarter}"),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let refuse = || PeriodError(code.to_owned());
        let (year, quarter) = match code.split_once('Q') {
            Some((year, quarter)) => (year, Some(quarter)),
            None => (code, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let year: i32 = year.parse().map_err(|_| refuse())?;
        if !(2000..=2100).contains(&year) {
            return Err(refuse());
        }
        match quarter {
            None => Ok(Period::Year(year)),
            Some(q @ ("1" | "2" | "3" | "4")) => Ok(Period::Quarter {
                year,
                quarter: q.parse().map_err(|_| refuse())?,
            }),
            Some(_) => Err(refuse()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parses_quarters_and_years() {
        assert_eq!("2018Q4".parse(), Ok(Period::Quarter { year: 2018, quarter: 4 }));
        assert_eq!("2019".parse(), Ok(Period::Year(2019)));
        assert_eq!(Period::Quarter { year: 2018, quarter: 4 }.to_string(), "2018Q4");
    }

    #[test]
    fn refuses_malformed_codes() {
        for bad in [
            "", "18Q4", "2018Q5", "2018Q0", "2018q4", "2018Q", "2018-Q4", "1999", "+201", "2018Q44",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn bounds_of_quarters_and_years() {
        let q1 = Period::Quarter { year: 2019, quarter: 1 };
        assert_eq!(q1.start(), date("2019-01-01"));
        assert_eq!(q1.end(), date("2019-03-31"));
        let q4 = Period::Quarter { year: 2018, quarter: 4 };
        assert_eq!(q4.end(), date("2018-12-31"));
        assert_eq!(Period::Year(2020).end(), date("2020-12-31"));
        assert!(q4.contains(date("2018-10-01")));
        assert!(!q4.contains(date("2019-01-01")));
    }

    #[test]
    fn quarter_of_a_date() {
        assert_eq!(Period::quarter_of(date("2018-12-31")), "2018Q4".parse().unwrap());
        assert_eq!(Period::quarter_of(date("2019-04-01")), "2019Q2".parse().unwrap());
    }
}
