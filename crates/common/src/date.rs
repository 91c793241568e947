//! Calendar dates as Jigi's APIs and events write them: `YYYY-MM-DD`.

use chrono::NaiveDate;

/// Parses a `YYYY-MM-DD` date (exactly that shape: four digits, two, two;
/// no sign, no time, no offset).
///
/// Read by hand: every event and most requests carry dates, and chrono's
/// `parse_from_str` reads its format string again at every call.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let &[y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = text.as_bytes() else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, &digit| {
            digit.is_ascii_digit().then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let year = number(&[y1, y2, y3, y4])?;
    NaiveDate::from_ymd_opt(year as i32, number(&[m1, m2])?, number(&[d1, d2])?)
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
///
/// Written by hand for years 0–9999 (chrono's `Display` goes through the
/// formatting machinery, a tenth of a cached `GetHousehold`'s own work for a
/// household's birth dates); other years as chrono writes them (`+10000-…`).
pub fn format_date(date: NaiveDate) -> String {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return date.to_string();
    }
    let digit = |value: u32, unit: u32| char::from(b'0' + (value / unit % 10) as u8);
    let year = year as u32;
    let mut text = String::with_capacity(10);
    text.extend([
        digit(year, 1000),
        digit(year, 100),
        digit(year, 10),
        digit(year, 1),
        '-',
    ]);
    text.extend([digit(date.month(), 10), digit(date.month(), 1), '-']);
    text.extend([digit(date.day(), 10), digit(date.day(), 1)]);
    text
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
        for bad in [
            "2018-1-01",
            "2018-02-30",
            "2019-02-29",
            "2018-13-01",
            "2018-00-10",
            "2018-10-00",
            "2018-10-32",
            "01/10/2018",
            "2018-10-01T00:00:00Z",
            "",
            "+201-10-01",
            "-201-10-01",
            " 2018-10-1",
            "2018-10- 1",
            "2018/10/01",
            "2018-10-0١",
            "２018-10-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    /// Every day of years across the whole range, against chrono's own
    /// reading and writing of the ISO form.
    #[test]
    fn reads_and_writes_dates_as_chrono_does() {
        let mut checked = 0;
        for year in [
            0, 1, 9, 10, 99, 100, 999, 1000, 1900, 1999, 2000, 2018, 2024, 2100, 9999,
        ] {
            let mut date = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
            while chrono::Datelike::year(&date) == year {
                let text = format_date(date);
                assert_eq!(text, date.to_string());
                assert_eq!(parse_date(&text), Some(date), "{text}");
                assert_eq!(
                    parse_date(&text),
                    NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok(),
                    "{text}"
                );
                date = date.succ_opt().unwrap();
                checked += 1;
            }
        }
        assert!(checked > 5_000);
        for year in [-1, 10_000, 123_456] {
            let date = NaiveDate::from_ymd_opt(year, 2, 3).unwrap();
            assert_eq!(format_date(date), date.to_string());
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
