//! AGR: business plans, grant tranches and follow-up visits.

use jigi_bus::outbox;
use jigi_common::{Component, Problems};
use jigi_proto::activities as pa;
use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, RequestKey};

use super::{Activities, Answer, known_household};
use crate::domain::agr::{ActivityType, FOLLOW_UP_MONTHS, MAX_GRANT, Plan, StopReason, Tranche, Visit};
use crate::domain::model::Refusal;
use crate::grpc::convert;
use crate::grpc::parse::{self, registry_id};
use crate::{events, storage};

impl Activities {
    /// Records a household's business plan. The same plan recorded again is
    /// returned as it is; another plan for the same household already exists.
    pub async fn record_plan(&self, request: &pa::RecordBusinessPlanRequest) -> Result<Plan, CommandError> {
        let mut problems = Problems::new();
        let household_id = problems.check("household_id", registry_id(&request.household_id));
        let activity_type = ActivityType::from_wire(request.activity_type);
        if activity_type.is_none() {
            problems.add("activity_type", "is required: one of the ActivityType values");
        }
        let grant = problems.check(
            "planned_grant",
            parse::amount(request.planned_grant.as_ref(), MAX_GRANT),
        );
        let approved_on = self
            .rules()
            .past_date(&request.approved_on, "approved_on", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (household_id, activity_type, grant, approved_on) = (
            household_id.expect("checked"),
            activity_type.expect("checked"),
            grant.expect("checked"),
            approved_on.expect("checked"),
        );
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
                    household_id: household_id.clone(),
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

    /// Releases a tranche of a household's grant.
    pub async fn release_tranche(
        &self,
        key: RequestKey,
        request: &pa::ReleaseGrantTrancheRequest,
    ) -> Result<pa::ReleaseGrantTrancheResponse, CommandError> {
        let mut problems = Problems::new();
        let household_id = problems.check("household_id", registry_id(&request.household_id));
        let amount = problems.check("amount", parse::amount(request.amount.as_ref(), MAX_GRANT));
        let on = self
            .rules()
            .past_date(&request.released_on, "released_on", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (household_id, amount, on) = (
            household_id.expect("checked"),
            amount.expect("checked"),
            on.expect("checked"),
        );
        let this = self.clone();
        let answer = self
            .db
            .write(move |conn| {
                idempotency::once(conn, &key, |conn| {
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
                    Ok::<_, CommandError>(Answer(pa::ReleaseGrantTrancheResponse {
                        tranche: Some(convert::tranche(&tranche)),
                        plan: Some(convert::plan(&plan)),
                    }))
                })
            })
            .await?;
        self.counters.tranches_released.inc();
        Ok(answer.0)
    }

    /// Records a follow-up visit.
    pub async fn record_visit(&self, request: &pa::RecordFollowUpVisitRequest) -> Result<Plan, CommandError> {
        let mut problems = Problems::new();
        let household_id = problems.check("household_id", registry_id(&request.household_id));
        let month = u32::try_from(request.month)
            .ok()
            .filter(|m| FOLLOW_UP_MONTHS.contains(m));
        if month.is_none() {
            problems.add(
                "month",
                format!("{} is not a follow-up month: 3, 6 or 12", request.month),
            );
        }
        let on = self.rules().past_date(&request.visited_on, "visited_on", &mut problems);
        let stopped = match pa::ActivityStatus::try_from(request.status) {
            Ok(pa::ActivityStatus::Running) => {
                if request.stop_reason != 0 {
                    problems.add("stop_reason", "must be unset when the activity is running");
                }
                Some(None)
            }
            Ok(pa::ActivityStatus::Stopped) => match StopReason::from_wire(request.stop_reason) {
                Some(reason) => Some(Some(reason)),
                None => {
                    problems.add("stop_reason", "is required when the activity has stopped");
                    None
                }
            },
            _ => {
                problems.add("status", "is required: RUNNING or STOPPED");
                None
            }
        };
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let visit = Visit {
            month: month.expect("checked"),
            visited_on: on.expect("checked"),
            stopped: stopped.expect("checked"),
        };
        let household_id = household_id.expect("checked");
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

    pub async fn plan(&self, household_id: &str) -> Result<Plan, CommandError> {
        let household_id = registry_id(household_id).map_err(|e| CommandError::invalid("household_id", e))?;
        self.db.read(move |conn| load_plan(conn, &household_id)).await
    }
}

fn load_plan(conn: &mut Conn, household_id: &str) -> Result<Plan, CommandError> {
    storage::agr::load(conn, household_id)?.ok_or_else(|| CommandError::not_found("business_plan", household_id))
}
