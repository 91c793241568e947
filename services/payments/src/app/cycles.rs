//! A cycle's steps: open, assign agents, freeze, approve, cancel, close.

use jigi_common::Problems;

use super::{CommandError, Payments, today};
use crate::domain::cycle::{self, MAX_REASON_CHARS};
use crate::domain::model::{Actor, Cycle, CycleStatus, Totals};
use crate::domain::reconcile::{self, Reconciliation};
use crate::events;
use crate::storage::{self, CommuneShare};

/// An agent assignment as asked for: commune, agent code, channel (wire value).
#[derive(Debug, Clone)]
pub struct AssignmentRequest {
    pub commune: String,
    pub agent_code: String,
    pub channel: i32,
}

/// What a freeze produced.
#[derive(Debug, Clone)]
pub struct Frozen {
    pub cycle: Cycle,
    pub communes: Vec<CommuneShare>,
    /// Households in scope left out because another live cycle of the
    /// quarter lists them.
    pub already_in_other_cycle: i64,
}

fn actor(field: &str, text: &str) -> Result<Actor, CommandError> {
    Actor::parse(text).map_err(|message| CommandError::invalid(field, message))
}

impl Payments {
    /// Opens a cycle in DRAFT.
    pub async fn open(
        &self,
        period: &str,
        funding_source: i32,
        amount_per_household: i64,
        communes: &[String],
        prepared_by: &str,
    ) -> Result<Cycle, CommandError> {
        let new = cycle::new_cycle(
            &self.geography,
            self.region,
            period,
            funding_source,
            amount_per_household,
            communes,
            prepared_by,
        )
        .map_err(|problems| CommandError::Invalid(problems.into_errors()))?;
        let mut tx = self.db.begin_write().await?;
        if let Some(existing) = storage::live_cycle_id(&mut tx, new.period, new.funding_source).await? {
            return Err(CommandError::Exists {
                kind: "payment cycle",
                message: format!(
                    "cycle {existing} is already open for {} funded by {}: use it, or cancel it first",
                    new.period,
                    new.funding_source.code()
                ),
                id: existing,
            });
        }
        let now = jigi_storage::timestamp::now_utc();
        let cycle = Cycle {
            cycle_id: uuid::Uuid::now_v7().to_string(),
            region: self.region,
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
        storage::insert_cycle(&mut tx, &cycle).await?;
        self.outbox.add(&mut tx, &[events::opened(&cycle)]).await?;
        self.commit(tx).await?;
        self.metrics.step("opened");
        tracing::info!(cycle_id = %cycle.cycle_id, period = %cycle.period, "payment cycle opened");
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
                a.channel,
                &field,
                &mut problems,
            ) {
                assignments.push((field, assignment));
            }
        }
        let assigned_by = problems.check("assigned_by", Actor::parse(assigned_by));
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let assigned_by = assigned_by.expect("checked");

        let mut tx = self.db.begin_write().await?;
        let cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::can_assign(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        let mut problems = Problems::new();
        for (field, assignment) in &assignments {
            problems.check(
                format!("{field}.commune"),
                cycle::assignment_in_scope(&cycle, &assignment.commune),
            );
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let assignments: Vec<_> = assignments.into_iter().map(|(_, a)| a).collect();
        storage::assign_agents(&mut tx, cycle_id, &assignments, assigned_by.as_str()).await?;
        let cycle = self.load_for_change(&mut tx, cycle_id).await?;
        tx.commit().await?;
        Ok(cycle)
    }

    /// Freezes the cycle's list from the households enrolled in TM now.
    pub async fn freeze(&self, cycle_id: &str, prepared_by: &str) -> Result<Frozen, CommandError> {
        let actor = actor("prepared_by", prepared_by)?;
        let mut tx = self.db.begin_write().await?;
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::can_freeze(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        let already_in_other_cycle =
            storage::freeze(&mut tx, cycle_id, cycle.period, cycle.amount_per_household).await?;
        let communes = storage::commune_totals(&mut tx, cycle_id).await?;
        let mut frozen = Totals::ZERO;
        for share in &communes {
            frozen.add(share.totals);
        }
        cycle.frozen = frozen;
        cycle.status = CycleStatus::Frozen;
        cycle.frozen_by = Some(actor.as_str().to_owned());
        cycle.frozen_at = Some(jigi_storage::timestamp::now_utc());
        storage::update_cycle(&mut tx, &cycle).await?;
        self.outbox.add(&mut tx, &[events::frozen(&cycle, &communes)]).await?;
        self.commit(tx).await?;
        self.metrics.step("frozen");
        tracing::info!(
            cycle_id,
            households = frozen.count,
            amount = frozen.amount.francs(),
            "payment cycle frozen"
        );
        Ok(Frozen {
            cycle,
            communes,
            already_in_other_cycle,
        })
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
        let mut tx = self.db.begin_write().await?;
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        let unassigned = storage::unassigned_communes(&mut tx, cycle_id).await?;
        let control = cycle::approve(
            &cycle,
            &approver,
            Totals::new(expected_count, expected_amount),
            &unassigned,
        )
        .map_err(|r| CommandError::refused(r, cycle_id))?;
        cycle.control = control;
        cycle.status = CycleStatus::Approved;
        cycle.approved_by = Some(approver.as_str().to_owned());
        cycle.approved_at = Some(jigi_storage::timestamp::now_utc());
        storage::update_cycle(&mut tx, &cycle).await?;
        self.outbox.add(&mut tx, &[events::approved(&cycle)]).await?;
        self.commit(tx).await?;
        self.metrics.step("approved");
        tracing::info!(
            cycle_id,
            households = control.count,
            amount = control.amount.francs(),
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
        let mut tx = self.db.begin_write().await?;
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::can_cancel(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        cycle.status = CycleStatus::Cancelled;
        cycle.ended_by = Some(actor.as_str().to_owned());
        cycle.ended_at = Some(jigi_storage::timestamp::now_utc());
        cycle.cancel_reason = Some(reason.to_owned());
        storage::update_cycle(&mut tx, &cycle).await?;
        self.outbox.add(&mut tx, &[events::cancelled(&cycle)]).await?;
        self.commit(tx).await?;
        self.metrics.step("cancelled");
        Ok(cycle)
    }

    /// Closes a disbursing cycle and returns its final reconciliation.
    pub async fn close(&self, cycle_id: &str, closed_by: &str) -> Result<(Cycle, Reconciliation), CommandError> {
        let actor = actor("closed_by", closed_by)?;
        let mut tx = self.db.begin_write().await?;
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::can_close(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        cycle.status = CycleStatus::Closed;
        cycle.ended_by = Some(actor.as_str().to_owned());
        cycle.ended_at = Some(jigi_storage::timestamp::now_utc());
        let counts = storage::count_by_commune_and_status(&mut tx, cycle_id).await?;
        let reconciliation = reconcile::reconcile(&cycle, &counts);
        storage::update_cycle(&mut tx, &cycle).await?;
        self.outbox
            .add(&mut tx, &[events::closed(&cycle, reconcile::outcomes(&reconciliation))])
            .await?;
        self.commit(tx).await?;
        self.metrics.step("closed");
        tracing::info!(cycle_id, on = %today(), "payment cycle closed");
        Ok((cycle, reconciliation))
    }
}
