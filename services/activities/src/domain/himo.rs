//! Labour-intensive works (HIMO): a work site's life (planned, technically
//! validated, set up, closed), one worker per enrolled household, days
//! worked and the wages they earn.
//!
//! The rules: attendance only on an open site (set up after its technical
//! validation, not closed), on or after its set-up day; one worker per
//! household, a member of working age; a household's wages in a quarter
//! (days × the site's daily wage) never exceed [`WAGE_CAP_PER_QUARTER`]: a
//! day that would take them over is *refused* when attendance is recorded,
//! not silently cut at payment, so the site's register and the money always
//! agree; a quarter's wages are fixed once its wage sheet is closed, and no
//! day of that quarter is recorded after.

use chrono::NaiveDate;
use jigi_common::{Fcfa, HouseholdId, MemberId, Period};

use super::model::{Location, Refusal, age_in_years};

/// A household's HIMO wages per quarter never exceed this (60 days at the
/// programme's usual 1,500 FCFA a day); the payments service checks it too.
pub const WAGE_CAP_PER_QUARTER: Fcfa = jigi_common::component::HIMO_WAGE_CAP_PER_QUARTER;
/// Largest daily wage a site may set.
pub const MAX_DAILY_WAGE: Fcfa = Fcfa::new(10_000);
/// Most person-days a site may plan.
pub const MAX_PLANNED_PERSON_DAYS: i64 = 10_000_000;
/// Most workers recorded on one day's attendance sheet.
pub const MAX_WORKERS_PER_DAY: usize = 5_000;
/// Working age, in whole years.
pub const WORKING_AGE: std::ops::RangeInclusive<u32> = 18..=64;

/// What a site builds. Wire values shared by the API's `SiteType` and the
/// events' `HimoSiteType` (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteType {
    RuralRoad,
    SoilConservation,
    Reforestation,
    WaterWorks,
    MarketGarden,
}

impl SiteType {
    pub const ALL: [SiteType; 5] = [
        SiteType::RuralRoad,
        SiteType::SoilConservation,
        SiteType::Reforestation,
        SiteType::WaterWorks,
        SiteType::MarketGarden,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SiteType::RuralRoad => "rural_road",
            SiteType::SoilConservation => "soil_conservation",
            SiteType::Reforestation => "reforestation",
            SiteType::WaterWorks => "water_works",
            SiteType::MarketGarden => "market_garden",
        }
    }

    pub fn from_code(code: &str) -> Option<SiteType> {
        SiteType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn wire(self) -> i32 {
        SiteType::ALL.iter().position(|t| *t == self).expect("listed") as i32 + 1
    }

    pub fn from_wire(value: i32) -> Option<SiteType> {
        usize::try_from(value.saturating_sub(1))
            .ok()
            .and_then(|i| SiteType::ALL.get(i).copied())
    }
}

/// Where a site is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteStatus {
    Planned,
    Validated,
    Open,
    Closed,
}

impl SiteStatus {
    pub const ALL: [SiteStatus; 4] = [
        SiteStatus::Planned,
        SiteStatus::Validated,
        SiteStatus::Open,
        SiteStatus::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SiteStatus::Planned => "planned",
            SiteStatus::Validated => "validated",
            SiteStatus::Open => "open",
            SiteStatus::Closed => "closed",
        }
    }

    pub fn from_code(code: &str) -> Option<SiteStatus> {
        SiteStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The API's `SiteStatus`.
    pub fn wire(self) -> i32 {
        SiteStatus::ALL.iter().position(|s| *s == self).expect("listed") as i32 + 1
    }
}

/// A work site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub site_id: String,
    pub site_type: SiteType,
    pub location: Location,
    pub status: SiteStatus,
    pub planned_start: NaiveDate,
    pub validated_on: Option<NaiveDate>,
    pub started_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub planned_person_days: i64,
    pub daily_wage: Fcfa,
}

/// A household's worker to assign to a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAssignment {
    pub site_id: String,
    pub household_id: HouseholdId,
    pub member_id: MemberId,
}

/// Who worked on a site on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceSheet {
    pub site_id: String,
    pub worked_on: NaiveDate,
    /// Registry IDs of the workers, each once.
    pub member_ids: Vec<MemberId>,
}

/// A site with what was done on it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteView {
    pub site: Site,
    pub workers: i64,
    pub worked_person_days: i64,
    /// For the delay of a site not set up yet.
    pub today: NaiveDate,
}

impl Site {
    /// Days between the planned and the actual set-up (negative when early);
    /// for a site not set up, the days it is late on `today` (0 if not due).
    pub fn start_delay_days(&self, today: NaiveDate) -> i32 {
        match self.started_on {
            Some(started) => (started - self.planned_start).num_days() as i32,
            None => (today - self.planned_start).num_days().max(0) as i32,
        }
    }

    /// Checks the technical validation: only of a planned site.
    pub fn check_validation(&self) -> Result<(), Refusal> {
        if self.status != SiteStatus::Planned {
            return Err(Refusal::new(
                "SITE_ALREADY_VALIDATED",
                format!(
                    "site {} is {}, no longer waiting for validation",
                    self.site_id,
                    self.status.code()
                ),
            ));
        }
        Ok(())
    }

    /// Checks the set-up on `on`: only a validated site, not before its validation.
    pub fn check_start(&self, on: NaiveDate) -> Result<(), Refusal> {
        match self.status {
            SiteStatus::Validated => {}
            SiteStatus::Planned => {
                return Err(Refusal::new(
                    "SITE_NOT_VALIDATED",
                    format!("site {} has not passed its technical validation", self.site_id),
                ));
            }
            SiteStatus::Open | SiteStatus::Closed => {
                return Err(Refusal::new(
                    "SITE_ALREADY_STARTED",
                    format!("site {} was set up on {}", self.site_id, fmt(self.started_on)),
                ));
            }
        }
        if let Some(validated) = self.validated_on
            && on < validated
        {
            return Err(Refusal::new(
                "BEFORE_VALIDATION",
                format!("site {} was validated on {validated}; {on} is before", self.site_id),
            ));
        }
        Ok(())
    }

    /// Checks closing on `on`, given the last day worked on the site.
    pub fn check_close(&self, on: NaiveDate, last_worked: Option<NaiveDate>) -> Result<(), Refusal> {
        if self.status != SiteStatus::Open {
            return Err(Refusal::new(
                "SITE_NOT_OPEN",
                format!(
                    "site {} is {}: only an open site is closed",
                    self.site_id,
                    self.status.code()
                ),
            ));
        }
        let floor = last_worked.max(self.started_on);
        if let Some(floor) = floor
            && on < floor
        {
            return Err(Refusal::new(
                "BEFORE_LAST_DAY_WORKED",
                format!(
                    "site {} has work recorded on {floor}; it cannot close on {on}",
                    self.site_id
                ),
            ));
        }
        Ok(())
    }

    /// Checks a worker may be assigned: a site not closed.
    pub fn check_assignment(&self) -> Result<(), Refusal> {
        if self.status == SiteStatus::Closed {
            return Err(Refusal::new(
                "SITE_CLOSED",
                format!("site {} closed on {}", self.site_id, fmt(self.closed_on)),
            ));
        }
        Ok(())
    }

    /// Checks a day of attendance on `on`: an open site, on or after its set-up.
    pub fn check_attendance(&self, on: NaiveDate) -> Result<(), Refusal> {
        match self.status {
            SiteStatus::Open => {}
            SiteStatus::Closed => {
                return Err(Refusal::new(
                    "SITE_CLOSED",
                    format!(
                        "site {} closed on {}: no more attendance",
                        self.site_id,
                        fmt(self.closed_on)
                    ),
                ));
            }
            SiteStatus::Planned => {
                return Err(Refusal::new(
                    "SITE_NOT_VALIDATED",
                    format!(
                        "site {} has not passed its technical validation: no work is recorded on it",
                        self.site_id
                    ),
                ));
            }
            SiteStatus::Validated => {
                return Err(Refusal::new(
                    "SITE_NOT_STARTED",
                    format!("site {} is validated but not set up yet", self.site_id),
                ));
            }
        }
        if let Some(started) = self.started_on
            && on < started
        {
            return Err(Refusal::new(
                "BEFORE_SITE_START",
                format!("site {} was set up on {started}; {on} is before", self.site_id),
            ));
        }
        Ok(())
    }
}

fn fmt(date: Option<NaiveDate>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

/// Checks a member may be a household's worker on `on`: of working age.
pub fn check_working_age(member_id: &str, birth: NaiveDate, on: NaiveDate) -> Result<(), Refusal> {
    let age = age_in_years(birth, on);
    if !WORKING_AGE.contains(&age) {
        return Err(Refusal::new(
            "NOT_OF_WORKING_AGE",
            format!(
                "person {member_id} is {age} on {on}: a worker is {} to {}",
                WORKING_AGE.start(),
                WORKING_AGE.end()
            ),
        ));
    }
    Ok(())
}

/// The wages of `days` at `daily_wage`.
pub fn wages(days: i64, daily_wage: Fcfa) -> Option<Fcfa> {
    daily_wage.checked_mul(days)
}

/// Checks that one more day at `daily_wage` keeps a household that has
/// already earned `earned` in the quarter within the cap.
pub fn check_wage_cap(household_id: &str, earned: Fcfa, daily_wage: Fcfa, period: Period) -> Result<(), Refusal> {
    let after = earned.checked_add(daily_wage);
    if after.is_none_or(|after| after > WAGE_CAP_PER_QUARTER) {
        return Err(Refusal::new(
            "WAGE_CAP_EXCEEDED",
            format!(
                "household {household_id} has earned {earned} in {period}: one more day at {daily_wage} would take \
                 its wages over the cap of {WAGE_CAP_PER_QUARTER} a quarter"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;

    use super::*;
    use crate::domain::model::tests::d;

    fn site(status: SiteStatus) -> Site {
        Site {
            site_id: "sanando-piste-1".into(),
            site_type: SiteType::RuralRoad,
            location: Location {
                region: Region::Segou,
                cercle: "segou.baroueli".into(),
                commune: "segou.baroueli.sanando".into(),
                village: String::new(),
            },
            status,
            planned_start: d("2018-03-01"),
            validated_on: (status != SiteStatus::Planned).then(|| d("2018-03-10")),
            started_on: matches!(status, SiteStatus::Open | SiteStatus::Closed).then(|| d("2018-04-16")),
            closed_on: (status == SiteStatus::Closed).then(|| d("2018-06-30")),
            planned_person_days: 6_000,
            daily_wage: Fcfa::new(1_500),
        }
    }

    #[test]
    fn attendance_on_a_closed_or_unvalidated_site_is_refused() {
        assert_eq!(
            site(SiteStatus::Closed)
                .check_attendance(d("2018-05-02"))
                .unwrap_err()
                .kind,
            "SITE_CLOSED"
        );
        assert_eq!(
            site(SiteStatus::Planned)
                .check_attendance(d("2018-05-02"))
                .unwrap_err()
                .kind,
            "SITE_NOT_VALIDATED"
        );
        assert_eq!(
            site(SiteStatus::Validated)
                .check_attendance(d("2018-05-02"))
                .unwrap_err()
                .kind,
            "SITE_NOT_STARTED"
        );
        let open = site(SiteStatus::Open);
        assert_eq!(
            open.check_attendance(d("2018-04-15")).unwrap_err().kind,
            "BEFORE_SITE_START"
        );
        open.check_attendance(d("2018-04-16")).unwrap();
    }

    #[test]
    fn a_wage_over_the_cap_is_refused() {
        let q2 = Period::Quarter { year: 2018, quarter: 2 };
        // 60 days at 1,500 reach the cap exactly; a 61st day is refused.
        check_wage_cap("hh-1", Fcfa::new(88_500), Fcfa::new(1_500), q2).unwrap();
        assert_eq!(
            check_wage_cap("hh-1", Fcfa::new(90_000), Fcfa::new(1_500), q2)
                .unwrap_err()
                .kind,
            "WAGE_CAP_EXCEEDED"
        );
        // 88,000 earned leaves room for one more 2,000 day (exactly the cap); 88,001 does not.
        check_wage_cap("hh-1", Fcfa::new(88_000), Fcfa::new(2_000), q2).unwrap();
        assert_eq!(
            check_wage_cap("hh-1", Fcfa::new(88_001), Fcfa::new(2_000), q2)
                .unwrap_err()
                .kind,
            "WAGE_CAP_EXCEEDED"
        );
        assert_eq!(wages(45, Fcfa::new(2_000)), Some(Fcfa::new(90_000)));
    }

    #[test]
    fn a_site_is_validated_then_set_up_then_closed() {
        let planned = site(SiteStatus::Planned);
        planned.check_validation().unwrap();
        assert_eq!(
            planned.check_start(d("2018-04-16")).unwrap_err().kind,
            "SITE_NOT_VALIDATED"
        );
        let validated = site(SiteStatus::Validated);
        assert_eq!(validated.check_validation().unwrap_err().kind, "SITE_ALREADY_VALIDATED");
        assert_eq!(
            validated.check_start(d("2018-03-09")).unwrap_err().kind,
            "BEFORE_VALIDATION"
        );
        validated.check_start(d("2018-04-16")).unwrap();
        assert_eq!(
            validated.check_close(d("2018-06-30"), None).unwrap_err().kind,
            "SITE_NOT_OPEN"
        );
        let open = site(SiteStatus::Open);
        assert_eq!(
            open.check_close(d("2018-05-01"), Some(d("2018-05-02")))
                .unwrap_err()
                .kind,
            "BEFORE_LAST_DAY_WORKED"
        );
        open.check_close(d("2018-05-02"), Some(d("2018-05-02"))).unwrap();
        assert_eq!(
            site(SiteStatus::Closed).check_assignment().unwrap_err().kind,
            "SITE_CLOSED"
        );
    }

    #[test]
    fn set_up_delays_are_planned_against_actual() {
        let open = site(SiteStatus::Open);
        assert_eq!(open.start_delay_days(d("2019-01-01")), 46);
        let validated = site(SiteStatus::Validated);
        assert_eq!(validated.start_delay_days(d("2018-02-20")), 0);
        assert_eq!(validated.start_delay_days(d("2018-03-31")), 30);
    }

    #[test]
    fn workers_are_of_working_age() {
        check_working_age("m", d("2000-05-01"), d("2018-05-01")).unwrap();
        assert_eq!(
            check_working_age("m", d("2000-05-02"), d("2018-05-01"))
                .unwrap_err()
                .kind,
            "NOT_OF_WORKING_AGE"
        );
        check_working_age("m", d("1953-05-02"), d("2018-05-01")).unwrap();
        assert_eq!(
            check_working_age("m", d("1953-05-01"), d("2018-05-01"))
                .unwrap_err()
                .kind,
            "NOT_OF_WORKING_AGE"
        );
    }

    #[test]
    fn codes_and_wire_values_round_trip() {
        for t in SiteType::ALL {
            assert_eq!(SiteType::from_code(t.code()), Some(t));
            assert_eq!(SiteType::from_wire(t.wire()), Some(t));
        }
        for s in SiteStatus::ALL {
            assert_eq!(SiteStatus::from_code(s.code()), Some(s));
        }
        // A hostile client's extreme values are unknown, not a panic.
        assert_eq!(SiteType::from_wire(i32::MIN), None);
        assert_eq!(SiteType::from_wire(i32::MAX), None);
    }
}
