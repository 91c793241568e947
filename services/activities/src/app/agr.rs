//! AGR: business plans, grant tranches and follow-up visits.

use jigi_bus::outbox;
use jigi_common::{Component, HouseholdId};
use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, Remembered, RequestKey};

use super::{Activities, known_household};
use crate::domain::agr::{NewPlan, Plan, Tranche, TrancheRelease, Visit};
use crate::domain::model::Refusal;
use crate::{events, storage};

impl Activities {
    /// Records a household's business plan. The same plan recorded again is
    /// returned as it is; another plan for the same household already exists.
    pub async fn record_plan(&self, new: NewPlan) -> Result<Plan, CommandError> {
        let NewPlan {
            household_id,
            activity_type,
            planned_grant: grant,
            approved_on,
        } = new;
        let this = self.clone();
        self.db
            .write(move |conn| {
                let household = known_household(conn, &household_id)?;
                if let Some(existing) = storage::agr::load(conn, &household_id)? {
                    let same = existing.activity_type == activity_type
                        && existing.planned_grant == grant
                        && existing.approved_on == approved_on;
                    return if same {
                        Ok(existing)
                    } else {
                        Err(CommandError::exists(
                            "business_plan",
                            &household_id,
                            format!("household {household_id} already has a business plan"),
                        ))
                    };
                }
                if !household.takes_part(Component::Agr, approved_on) {
                    return Err(this.refused(
                        Refusal::new(
                            "NOT_ENROLLED",
                            format!("household {household_id} is not enrolled in AGR on {approved_on}"),
                        ),
                        &household_id,
                    ));
                }
                let plan = Plan {
                    household_id: household_id.to_string(),
                    location: household.location,
                    activity_type,
                    planned_grant: grant,
                    approved_on,
                    tranches: Vec::new(),
                    visits: Vec::new(),
                };
                storage::agr::insert_plan(conn, &plan)?;
                outbox::add(conn, &[events::plan_approved(&plan)])?;
                Ok(plan)
            })
            .await
    }

    /// Releases a tranche of a household's grant, once per request: a
    /// retry gets back the answer `answer` made of the first release.
    pub async fn release_tranche<A>(
        &self,
        key: RequestKey,
        release: TrancheRelease,
        answer: impl FnOnce(&Plan, &Tranche) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let TrancheRelease {
            household_id,
            amount,
            released_on: on,
        } = release;
        let this = self.clone();
        let (answer, released) = self
            .db
            .write(move |conn| {
                idempotency::once_ran(conn, &key, |conn| {
                    let mut plan = load_plan(conn, &household_id)?;
                    let household = known_household(conn, &household_id)?;
                    if !household.takes_part(Component::Agr, on) {
                        return Err(this.refused(
                            Refusal::new(
                                "NOT_ENROLLED",
                                format!("household {household_id} is not enrolled in AGR on {on}"),
                            ),
                            &household_id,
                        ));
                    }
                    let number = plan
                        .next_tranche(amount, on)
                        .map_err(|r| this.refused(r, &household_id))?;
                    let tranche = Tranche {
                        tranche_id: uuid::Uuid::new_v4().to_string(),
                        number,
                        amount,
                        released_on: on,
                    };
                    storage::agr::insert_tranche(conn, &household_id, &tranche)?;
                    plan.tranches.push(tranche.clone());
                    outbox::add(conn, &[events::tranche_released(&plan, &tranche)])?;
                    Ok::<_, CommandError>(answer(&plan, &tranche))
                })
            })
            .await?;
        if released {
            self.counters.tranches_released.inc();
        }
        Ok(answer)
    }

    /// Records a follow-up visit.
    pub async fn record_visit(&self, household_id: HouseholdId, visit: Visit) -> Result<Plan, CommandError> {
        let this = self.clone();
        self.db
            .write(move |conn| {
                let mut plan = load_plan(conn, &household_id)?;
                plan.check_visit(visit.month, visit.visited_on)
                    .map_err(|r| this.refused(r, &household_id))?;
                storage::agr::insert_visit(conn, &household_id, &visit)?;
                plan.visits.push(visit.clone());
                plan.visits.sort_by_key(|v| v.month);
                outbox::add(conn, &[events::follow_up_visited(&plan, &visit)])?;
                Ok(plan)
            })
            .await
    }

    pub async fn plan(&self, household_id: HouseholdId) -> Result<Plan, CommandError> {
        self.db.read(move |conn| load_plan(conn, &household_id)).await
    }
}

fn load_plan(conn: &mut Conn, household_id: &str) -> Result<Plan, CommandError> {
    storage::agr::load(conn, household_id)?.ok_or_else(|| CommandError::not_found("business_plan", household_id))
}
