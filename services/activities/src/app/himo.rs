//! HIMO: work sites, workers, attendance and wage sheets.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_bus::outbox;
use jigi_common::{Component, Fcfa, Period, Sex};
use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, Remembered, RequestKey};

use super::{Activities, known_household, today};
use crate::domain::himo::{self, AttendanceSheet, Site, SiteStatus, SiteView, WAGE_CAP_PER_QUARTER, WorkerAssignment};
use crate::domain::model::{Refusal, takes_part};
use crate::storage::himo::{Day, WageLine};
use crate::{events, storage};

impl Activities {
    /// Plans a site. The same site planned again with the same content is
    /// returned as it is; with other content it already exists.
    pub async fn plan_site(&self, site: Site) -> Result<SiteView, CommandError> {
        self.db
            .write(move |conn| {
                if let Some(existing) = storage::himo::load_site(conn, &site.site_id)? {
                    let same = existing.site_type == site.site_type
                        && existing.location == site.location
                        && existing.planned_start == site.planned_start
                        && existing.planned_person_days == site.planned_person_days
                        && existing.daily_wage == site.daily_wage;
                    return if same {
                        view(conn, existing)
                    } else {
                        Err(CommandError::exists(
                            "work_site",
                            &site.site_id,
                            format!("site {} already exists with other content", site.site_id),
                        ))
                    };
                }
                storage::himo::insert_site(conn, &site)?;
                outbox::add(conn, &[events::site_planned(&site)])?;
                view(conn, site)
            })
            .await
    }

    pub async fn validate_site(&self, site_id: String, on: NaiveDate) -> Result<SiteView, CommandError> {
        let this = self.clone();
        self.db
            .write(move |conn| {
                let mut site = load_site(conn, &site_id)?;
                site.check_validation().map_err(|r| this.refused(r, &site_id))?;
                site.status = SiteStatus::Validated;
                site.validated_on = Some(on);
                storage::himo::update_site(conn, &site)?;
                outbox::add(conn, &[events::site_validated(&site, on)])?;
                view(conn, site)
            })
            .await
    }

    pub async fn start_site(&self, site_id: String, on: NaiveDate) -> Result<SiteView, CommandError> {
        let this = self.clone();
        self.db
            .write(move |conn| {
                let mut site = load_site(conn, &site_id)?;
                site.check_start(on).map_err(|r| this.refused(r, &site_id))?;
                site.status = SiteStatus::Open;
                site.started_on = Some(on);
                storage::himo::update_site(conn, &site)?;
                outbox::add(conn, &[events::site_started(&site, on)])?;
                view(conn, site)
            })
            .await
    }

    pub async fn close_site(&self, site_id: String, on: NaiveDate) -> Result<SiteView, CommandError> {
        let this = self.clone();
        self.db
            .write(move |conn| {
                let mut site = load_site(conn, &site_id)?;
                let (_, worked, last_worked) = storage::himo::site_figures(conn, &site_id)?;
                site.check_close(on, last_worked)
                    .map_err(|r| this.refused(r, &site_id))?;
                site.status = SiteStatus::Closed;
                site.closed_on = Some(on);
                storage::himo::update_site(conn, &site)?;
                outbox::add(conn, &[events::site_closed(&site, on, worked)])?;
                view(conn, site)
            })
            .await
    }

    pub async fn site(&self, site_id: String) -> Result<SiteView, CommandError> {
        self.db
            .read(move |conn| {
                let site = load_site(conn, &site_id)?;
                view(conn, site)
            })
            .await
    }

    /// Assigns a household's worker to a site: a member present in a
    /// household enrolled in HIMO, of working age, living in the site's
    /// commune; one worker per household.
    pub async fn assign_worker(&self, assignment: WorkerAssignment) -> Result<SiteView, CommandError> {
        let WorkerAssignment {
            site_id,
            household_id,
            member_id,
        } = assignment;
        let this = self.clone();
        let on = today();
        self.db
            .write(move |conn| {
                let site = load_site(conn, &site_id)?;
                site.check_assignment().map_err(|r| this.refused(r, &site_id))?;
                let household = known_household(conn, &household_id)?;
                let person = storage::registry::people(conn, &[member_id.as_str()])?
                    .remove(member_id.as_str())
                    .ok_or_else(|| CommandError::not_found("person", &member_id))?;
                if let Some((worker, worker_site)) = storage::himo::worker_of(conn, &household_id)? {
                    if worker == member_id.as_str() && worker_site == site_id {
                        return view(conn, site);
                    }
                    return Err(CommandError::exists(
                        "worker",
                        &household_id,
                        format!("household {household_id} already has its worker on site {worker_site}"),
                    ));
                }
                takes_part(&person, &household, Component::Himo, on).map_err(|r| this.refused(r, &member_id))?;
                himo::check_working_age(&member_id, person.birth_date, on).map_err(|r| this.refused(r, &member_id))?;
                if household.location.commune != site.location.commune {
                    return Err(this.refused(
                        Refusal::new(
                            "OUTSIDE_COMMUNE",
                            format!(
                                "household {household_id} lives in {}; site {site_id} is in {}",
                                household.location.commune, site.location.commune
                            ),
                        ),
                        &household_id,
                    ));
                }
                storage::himo::insert_worker(conn, &household_id, &member_id, &site_id, on)?;
                view(conn, site)
            })
            .await
    }

    /// Records who worked on a site on a day. Every worker listed must be
    /// the site's, not yet recorded that day, and within the wage cap; any
    /// line that breaks a rule refuses the whole sheet (nothing half-written).
    pub async fn record_attendance<A>(
        &self,
        key: RequestKey,
        sheet: AttendanceSheet,
        answer: impl FnOnce(&SiteView, usize) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let AttendanceSheet {
            site_id,
            worked_on: on,
            member_ids,
        } = sheet;
        let period = Period::quarter_of(on);
        let this = self.clone();
        let days = member_ids.len();
        let (answer, recorded) = self
            .db
            .write(move |conn| {
                idempotency::once_ran(conn, &key, |conn| {
                    let site = load_site(conn, &site_id)?;
                    site.check_attendance(on).map_err(|r| this.refused(r, &site_id))?;
                    if storage::himo::wage_period_closed(conn, &site_id, period)?.is_some() {
                        return Err(this.refused(
                            Refusal::new(
                                "WAGE_PERIOD_CLOSED",
                                format!("the wages of {period} on site {site_id} are closed: no day of it is added"),
                            ),
                            &site_id,
                        ));
                    }
                    let ids: Vec<&str> = member_ids.iter().map(|id| id.as_str()).collect();
                    let workers = storage::himo::workers_of_site(conn, &site_id, &ids)?;
                    if let Some(stranger) = ids.iter().find(|id| !workers.contains_key(**id)) {
                        return Err(this.refused(
                            Refusal::new(
                                "NOT_A_WORKER",
                                format!("person {stranger} is not a worker of site {site_id}"),
                            ),
                            stranger,
                        ));
                    }
                    if let Some(twice) = storage::himo::already_worked(conn, &ids, on)?.first() {
                        return Err(CommandError::exists(
                            "attendance",
                            twice,
                            format!("person {twice} is already recorded as working on {on}"),
                        ));
                    }
                    let days: Vec<Day<'_>> = ids
                        .iter()
                        .map(|id| Day {
                            member_id: id,
                            household_id: workers[*id].as_str(),
                        })
                        .collect();
                    let households: Vec<&str> = days.iter().map(|d| d.household_id).collect();
                    let earned = storage::himo::earned_in(conn, &households, period)?;
                    for day in &days {
                        let so_far = earned.get(day.household_id).copied().unwrap_or(Fcfa::ZERO);
                        himo::check_wage_cap(day.household_id, so_far, site.daily_wage, period)
                            .map_err(|r| this.refused(r, day.household_id))?;
                    }
                    storage::himo::insert_attendance(conn, &site_id, on, period, site.daily_wage, &days)?;
                    let people = storage::registry::people(conn, &ids)?;
                    let women = people.values().filter(|p| p.sex == Sex::Female).count() as i64;
                    let mut household_ids: Vec<String> = households.iter().map(|h| (*h).to_owned()).collect();
                    household_ids.sort_unstable();
                    outbox::add(conn, &[events::attendance_recorded(&site, on, household_ids, women)])?;
                    let site = view(conn, site)?;
                    Ok::<_, CommandError>(answer(&site, days.len()))
                })
            })
            .await?;
        if recorded {
            self.counters.attendance_days.inc_by(days as u64);
        }
        Ok(answer)
    }

    /// Closes a quarter's wages on a site: each household's days × daily
    /// wage, published for the payments service. A closed quarter is
    /// returned as it was closed.
    pub async fn close_wage_period(&self, site_id: String, period: Period) -> Result<WageSheet, CommandError> {
        self.db
            .write(move |conn| {
                let site = load_site(conn, &site_id)?;
                if let Some(closed_at) = storage::himo::wage_period_closed(conn, &site_id, period)? {
                    let lines = storage::himo::wages(conn, &site_id, period)?;
                    return Ok(wage_sheet(&site_id, period, lines, closed_at));
                }
                let lines = storage::himo::compute_wages(conn, &site_id, period)?;
                // The cap was enforced day by day; a sheet over it means the
                // database was edited: refuse rather than publish it.
                if let Some(over) = lines.iter().find(|l| l.amount > WAGE_CAP_PER_QUARTER) {
                    return Err(CommandError::Storage(crate::storage::decode_error(format!(
                        "household {} has {} in {period}, over the cap",
                        over.household_id, over.amount
                    ))));
                }
                let closed_at = jigi_storage::timestamp::now_utc();
                storage::himo::close_wage_period(conn, &site_id, period, closed_at, &lines)?;
                let events: Vec<_> = lines
                    .iter()
                    .map(|line| events::wages_due(&site, period, line))
                    .collect();
                outbox::add(conn, &events)?;
                Ok(wage_sheet(&site_id, period, lines, closed_at))
            })
            .await
    }
}

/// A quarter's wages on a site, as closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WageSheet {
    pub site_id: String,
    pub period: Period,
    /// One line per household that worked.
    pub lines: Vec<WageLine>,
    pub closed_at: DateTime<Utc>,
}

impl WageSheet {
    pub fn total(&self) -> Fcfa {
        self.lines.iter().map(|l| l.amount).sum()
    }
}

fn wage_sheet(site_id: &str, period: Period, lines: Vec<WageLine>, closed_at: DateTime<Utc>) -> WageSheet {
    WageSheet {
        site_id: site_id.to_owned(),
        period,
        lines,
        closed_at,
    }
}

fn load_site(conn: &mut Conn, site_id: &str) -> Result<Site, CommandError> {
    storage::himo::load_site(conn, site_id)?.ok_or_else(|| CommandError::not_found("work_site", site_id))
}

fn view(conn: &mut Conn, site: Site) -> Result<SiteView, CommandError> {
    let (workers, worked_person_days, _) = storage::himo::site_figures(conn, &site.site_id)?;
    Ok(SiteView {
        site,
        workers,
        worked_person_days,
        today: today(),
    })
}
