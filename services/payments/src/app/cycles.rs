//! A cycle's steps: open, assign agents, freeze, approve, cancel, close.

use jigi_bus::outbox;
use jigi_common::Problems;
use jigi_server::CommandError;
use jigi_storage::Conn;

use super::{Payments, check_cycle_id, load_cycle, refused, today};
use crate::domain::cycle::{self, MAX_REASON_CHARS, NewCycle};
use crate::domain::model::{Actor, Assignment, Channel, Cycle, CycleKind, CycleStatus, FundingSource, Totals};
use crate::domain::reconcile::{self, Reconciliation};
use crate::events;
use crate::storage::{self, CommuneShare};

/// An agent assignment as asked for: commune, agent code, and the channel
/// as the API read it (an error is reported with the other fields' problems).
#[derive(Debug, Clone)]
pub struct AssignmentRequest {
    pub commune: String,
    pub agent_code: String,
    pub channel: Result<Channel, String>,
}

/// What a freeze produced.
#[derive(Debug, Clone)]
pub struct Frozen {
    pub cycle: Cycle,
    pub communes: Vec<CommuneShare>,
    /// Households in scope left out because another live cycle of the
    /// quarter lists them.
    pub already_in_other_cycle: i64,
    /// Households in scope held out because the national linkage index
    /// suspects them of being registered twice, with the reason.
    pub held: Vec<storage::holds::Held>,
}

fn actor(field: &str, text: &str) -> Result<Actor, CommandError> {
    Actor::parse(text).map_err(|message| CommandError::invalid(field, message))
}

impl Payments {
    /// Opens a cycle of `kind` in DRAFT; `kind` and `funding_source` come
    /// as the API read them (an error is reported with the other fields').
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        &self,
        kind: Result<CycleKind, String>,
        period: &str,
        funding_source: Result<FundingSource, String>,
        amount_per_household: i64,
        communes: &[String],
        prepared_by: &str,
    ) -> Result<Cycle, CommandError> {
        let new = cycle::new_cycle(
            &self.geography,
            self.region,
            kind,
            period,
            funding_source,
            amount_per_household,
            communes,
            prepared_by,
        )
        .map_err(|problems| CommandError::Invalid(problems.into_errors()))?;
        let this = self.clone();
        let cycle = self.db.write(move |conn| this.open_in(conn, new)).await?;
        self.metrics.step("opened");
        tracing::info!(cycle_id = %cycle.cycle_id, period = %cycle.period, "payment cycle opened");
        Ok(cycle)
    }

    fn open_in(&self, conn: &mut Conn, new: NewCycle) -> Result<Cycle, CommandError> {
        if let Some(existing) = storage::live_cycle_id(conn, new.kind, new.period, new.funding_source)? {
            let message = format!(
                "{} cycle {existing} is already open for {} funded by {}: use it, or cancel it first",
                new.kind.component(),
                new.period,
                new.funding_source.code()
            );
            return Err(CommandError::exists("payment cycle", existing, message));
        }
        let now = jigi_storage::timestamp::now_utc();
        let cycle = Cycle {
            cycle_id: uuid::Uuid::now_v7().to_string(),
            region: self.region,
            kind: new.kind,
            period: new.period,
            funding_source: new.funding_source,
            amount_per_household: new.amount_per_household,
            communes: new.communes,
            status: CycleStatus::Draft,
            frozen: Totals::ZERO,
            control: Totals::ZERO,
            paid: Totals::ZERO,
            prepared_by: new.prepared_by.as_str().to_owned(),
            frozen_by: None,
            approved_by: None,
            ended_by: None,
            cancel_reason: None,
            opened_at: now,
            frozen_at: None,
            approved_at: None,
            ended_at: None,
            agents: Vec::new(),
        };
        storage::insert_cycle(conn, &cycle)?;
        outbox::add(conn, &[events::opened(&cycle)])?;
        Ok(cycle)
    }

    /// Assigns communes of a cycle to agents.
    pub async fn assign_agents(
        &self,
        cycle_id: &str,
        requested: &[AssignmentRequest],
        assigned_by: &str,
    ) -> Result<Cycle, CommandError> {
        let mut problems = Problems::new();
        if requested.is_empty() {
            problems.add("assignments", "give at least one assignment");
        }
        let mut assignments = Vec::with_capacity(requested.len());
        for (i, a) in requested.iter().enumerate() {
            let field = format!("assignments[{i}]");
            if requested[..i].iter().any(|earlier| earlier.commune == a.commune) {
                problems.add(format!("{field}.commune"), "is assigned twice in this request");
                continue;
            }
            if let Some(assignment) = cycle::assignment(
                &self.geography,
                self.region,
                &a.commune,
                &a.agent_code,
                a.channel.clone(),
                &field,
                &mut problems,
            ) {
                assignments.push((field, assignment));
            }
        }
        let assigned_by = problems.check("assigned_by", Actor::parse(assigned_by));
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let assigned_by = assigned_by.expect("checked");
        check_cycle_id(cycle_id)?;
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        self.db
            .write(move |conn| this.assign_in(conn, &cycle_id, assignments, &assigned_by))
            .await
    }

    /// Freezes the cycle's list: for TM, the households enrolled in TM now;
    /// for AGR grants and HIMO wages, what the activities service published
    /// as owed in the cycle's quarter.
    pub async fn freeze(&self, cycle_id: &str, prepared_by: &str) -> Result<Frozen, CommandError> {
        let actor = actor("prepared_by", prepared_by)?;
        check_cycle_id(cycle_id)?;
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let frozen = self
            .db
            .write(move |conn| this.freeze_in(conn, &cycle_id, &actor))
            .await?;
        self.metrics.step("frozen");
        tracing::info!(
            cycle_id = %frozen.cycle.cycle_id,
            households = frozen.cycle.frozen.count,
            amount = frozen.cycle.frozen.amount.francs(),
            "payment cycle frozen"
        );
        Ok(frozen)
    }

    /// Approves a frozen cycle, fixing its control totals.
    pub async fn approve(
        &self,
        cycle_id: &str,
        approved_by: &str,
        expected_count: i64,
        expected_amount: i64,
    ) -> Result<Cycle, CommandError> {
        let approver = actor("approved_by", approved_by)?;
        check_cycle_id(cycle_id)?;
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let expected = Totals::new(expected_count, expected_amount);
        let cycle = self
            .db
            .write(move |conn| this.approve_in(conn, &cycle_id, &approver, expected))
            .await?;
        self.metrics.step("approved");
        tracing::info!(
            cycle_id = %cycle.cycle_id,
            households = cycle.control.count,
            amount = cycle.control.amount.francs(),
            "payment cycle approved"
        );
        Ok(cycle)
    }

    /// Cancels a cycle before disbursement.
    pub async fn cancel(&self, cycle_id: &str, cancelled_by: &str, reason: &str) -> Result<Cycle, CommandError> {
        let mut problems = Problems::new();
        let actor = problems.check("cancelled_by", Actor::parse(cancelled_by));
        let reason = reason.trim();
        if reason.is_empty() {
            problems.add("reason", "is required");
        } else if reason.chars().count() > MAX_REASON_CHARS {
            problems.add("reason", format!("is longer than {MAX_REASON_CHARS} characters"));
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let actor = actor.expect("checked");
        check_cycle_id(cycle_id)?;
        let (this, cycle_id, reason) = (self.clone(), cycle_id.to_owned(), reason.to_owned());
        let cycle = self
            .db
            .write(move |conn| this.cancel_in(conn, &cycle_id, &actor, reason))
            .await?;
        self.metrics.step("cancelled");
        Ok(cycle)
    }

    /// Closes a disbursing cycle and returns its final reconciliation.
    pub async fn close(&self, cycle_id: &str, closed_by: &str) -> Result<(Cycle, Reconciliation), CommandError> {
        let actor = actor("closed_by", closed_by)?;
        check_cycle_id(cycle_id)?;
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let closed = self
            .db
            .write(move |conn| this.close_in(conn, &cycle_id, &actor))
            .await?;
        self.metrics.step("closed");
        tracing::info!(cycle_id = %closed.0.cycle_id, on = %today(), "payment cycle closed");
        Ok(closed)
    }

    fn assign_in(
        &self,
        conn: &mut Conn,
        cycle_id: &str,
        assignments: Vec<(String, Assignment)>,
        assigned_by: &Actor,
    ) -> Result<Cycle, CommandError> {
        let cycle = load_cycle(conn, cycle_id)?;
        cycle::can_assign(&cycle).map_err(|r| refused(r, cycle_id))?;
        let mut problems = Problems::new();
        for (field, assignment) in &assignments {
            problems.check(
                format!("{field}.commune"),
                cycle::assignment_in_scope(&cycle, &assignment.commune),
            );
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let assignments: Vec<_> = assignments.into_iter().map(|(_, a)| a).collect();
        storage::assign_agents(conn, cycle_id, &assignments, assigned_by.as_str())?;
        load_cycle(conn, cycle_id)
    }

    fn freeze_in(&self, conn: &mut Conn, cycle_id: &str, actor: &Actor) -> Result<Frozen, CommandError> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        cycle::can_freeze(&cycle).map_err(|r| refused(r, cycle_id))?;
        // Only cash transfers hold suspected duplicates: grants and wages
        // pay work or a plan the household itself carries out.
        let (already_in_other_cycle, held) = match cycle.kind {
            CycleKind::Tm => storage::freeze(conn, cycle_id, cycle.period, cycle.amount_per_household)?,
            kind => (
                storage::freeze_activities(conn, cycle_id, cycle.period, kind)?,
                Vec::new(),
            ),
        };
        let communes = storage::commune_totals(conn, cycle_id)?;
        let mut frozen = Totals::ZERO;
        for share in &communes {
            frozen.add(share.totals);
        }
        cycle.frozen = frozen;
        cycle.status = CycleStatus::Frozen;
        cycle.frozen_by = Some(actor.as_str().to_owned());
        cycle.frozen_at = Some(jigi_storage::timestamp::now_utc());
        storage::update_cycle(conn, &cycle)?;
        outbox::add(conn, &[events::frozen(&cycle, &communes)])?;
        Ok(Frozen {
            cycle,
            communes,
            already_in_other_cycle,
            held,
        })
    }

    fn approve_in(
        &self,
        conn: &mut Conn,
        cycle_id: &str,
        approver: &Actor,
        expected: Totals,
    ) -> Result<Cycle, CommandError> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        let unassigned = storage::unassigned_communes(conn, cycle_id)?;
        let control = cycle::approve(&cycle, approver, expected, &unassigned).map_err(|r| refused(r, cycle_id))?;
        cycle.control = control;
        cycle.status = CycleStatus::Approved;
        cycle.approved_by = Some(approver.as_str().to_owned());
        cycle.approved_at = Some(jigi_storage::timestamp::now_utc());
        storage::update_cycle(conn, &cycle)?;
        outbox::add(conn, &[events::approved(&cycle)])?;
        Ok(cycle)
    }

    fn cancel_in(&self, conn: &mut Conn, cycle_id: &str, actor: &Actor, reason: String) -> Result<Cycle, CommandError> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        cycle::can_cancel(&cycle).map_err(|r| refused(r, cycle_id))?;
        cycle.status = CycleStatus::Cancelled;
        cycle.ended_by = Some(actor.as_str().to_owned());
        cycle.ended_at = Some(jigi_storage::timestamp::now_utc());
        cycle.cancel_reason = Some(reason);
        storage::update_cycle(conn, &cycle)?;
        outbox::add(conn, &[events::cancelled(&cycle)])?;
        Ok(cycle)
    }

    fn close_in(
        &self,
        conn: &mut Conn,
        cycle_id: &str,
        actor: &Actor,
    ) -> Result<(Cycle, Reconciliation), CommandError> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        cycle::can_close(&cycle).map_err(|r| refused(r, cycle_id))?;
        cycle.status = CycleStatus::Closed;
        cycle.ended_by = Some(actor.as_str().to_owned());
        cycle.ended_at = Some(jigi_storage::timestamp::now_utc());
        let counts = storage::count_by_commune_and_status(conn, cycle_id)?;
        let reconciliation = reconcile::reconcile(&cycle, &counts);
        storage::update_cycle(conn, &cycle)?;
        outbox::add(conn, &[events::closed(&cycle, reconcile::outcomes(&reconciliation))])?;
        Ok((cycle, reconciliation))
    }
}
