//! Calendar dates as Jigi's APIs and events write them: `YYYY-MM-DD`.

use chrono::NaiveDate;

/// Parses a `YYYY-MM-DD` date (exactly that shape: no time, no offset).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A required date of the programme's own activity, `YYYY-MM-DD`, from 2000
/// on: what a request field holding a round's, a session's or a work day's
/// date must be. The error is the reason, to be named with the field.
pub fn programme_date(text: &str) -> Result<NaiveDate, String> {
    if text.is_empty() {
        return Err("is required".into());
    }
    let date = parse_date(text).ok_or_else(|| format!("{text:?} is not a date in YYYY-MM-DD form"))?;
    if date < NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date") {
        return Err(format!("{text} is before 2000"));
    }
    Ok(date)
}

/// A [`programme_date`] that is not after `today`: something that happened.
pub fn past_programme_date(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = programme_date(text)?;
    if date > today {
        return Err(format!("{text} is in the future"));
    }
    Ok(date)
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    // The display of a `NaiveDate` is `YYYY-MM-DD`, written directly
    // (a format string is parsed at every call).
    date.to_string()
}

/// Whole months from `birth` to `on` (0 if `on` is before `birth`), the way
/// ages of young children are counted: a child born on 15 March is 6 months
/// old from 15 September.
pub fn age_in_months(birth: NaiveDate, on: NaiveDate) -> u32 {
    use chrono::Datelike;
    if on < birth {
        return 0;
    }
    let months = (on.year() - birth.year()) * 12 + on.month() as i32 - birth.month() as i32;
    let months = if on.day() < birth.day() { months - 1 } else { months };
    months.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn parses_only_the_iso_shape() {
        assert_eq!(format_date(d("2018-10-01")), "2018-10-01");
        for bad in ["2018-1-01", "2018-02-30", "01/10/2018", "2018-10-01T00:00:00Z", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn programme_dates_are_from_2000_and_past_ones_not_after_today() {
        let today = d("2018-10-01");
        assert_eq!(programme_date("2000-01-01"), Ok(d("2000-01-01")));
        assert_eq!(programme_date(""), Err("is required".into()));
        assert_eq!(programme_date("1999-12-31"), Err("1999-12-31 is before 2000".into()));
        assert_eq!(
            programme_date("1/10/2018"),
            Err("\"1/10/2018\" is not a date in YYYY-MM-DD form".into())
        );
        assert_eq!(past_programme_date("2018-10-01", today), Ok(today));
        assert_eq!(
            past_programme_date("2018-10-02", today),
            Err("2018-10-02 is in the future".into())
        );
    }

    #[test]
    fn counts_whole_months() {
        assert_eq!(age_in_months(d("2018-03-15"), d("2018-09-14")), 5);
        assert_eq!(age_in_months(d("2018-03-15"), d("2018-09-15")), 6);
        assert_eq!(age_in_months(d("2013-06-01"), d("2018-05-31")), 59);
        assert_eq!(age_in_months(d("2013-06-01"), d("2018-06-01")), 60);
        assert_eq!(age_in_months(d("2018-06-01"), d("2018-01-01")), 0);
    }
}
