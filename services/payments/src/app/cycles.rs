//! A cycle's steps: open, assign agents, freeze, approve, cancel, close.

use jigi_bus::outbox;
use jigi_common::Problems;
use jigi_server::CommandError;
use jigi_storage::Conn;

use super::{Payments, load_cycle, refused, today};
use crate::domain::cycle::{self, NewCycle};
use crate::domain::model::{Actor, Assignment, Cycle, CycleId, CycleKind, CycleStatus, Totals};
use crate::domain::reconcile::{self, Reconciliation};
use crate::events;
use crate::storage::{self, CommuneShare};

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

impl Payments {
    /// Opens a cycle in DRAFT.
    pub async fn open(&self, new: NewCycle) -> Result<Cycle, CommandError> {
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
            cycle_id: CycleId::issue().into_string(),
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

    /// Assigns communes of a cycle to agents; each assignment comes with
    /// its field's path (`assignments[2]`), which a refusal names.
    pub async fn assign_agents(
        &self,
        cycle_id: &CycleId,
        assignments: Vec<(String, Assignment)>,
        assigned_by: Actor,
    ) -> Result<Cycle, CommandError> {
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        self.db
            .write(move |conn| this.assign_in(conn, &cycle_id, assignments, &assigned_by))
            .await
    }

    /// Freezes the cycle's list: for TM, the households enrolled in TM now;
    /// for AGR grants and HIMO wages, what the activities service published
    /// as owed in the cycle's quarter.
    pub async fn freeze(&self, cycle_id: &CycleId, actor: Actor) -> Result<Frozen, CommandError> {
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
    pub async fn approve(&self, cycle_id: &CycleId, approver: Actor, expected: Totals) -> Result<Cycle, CommandError> {
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
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

    /// Cancels a cycle before disbursement, for a reason (checked: see
    /// [`cycle::cancel_reason`]).
    pub async fn cancel(&self, cycle_id: &CycleId, actor: Actor, reason: String) -> Result<Cycle, CommandError> {
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let cycle = self
            .db
            .write(move |conn| this.cancel_in(conn, &cycle_id, &actor, reason))
            .await?;
        self.metrics.step("cancelled");
        Ok(cycle)
    }

    /// Closes a disbursing cycle and returns its final reconciliation.
    pub async fn close(&self, cycle_id: &CycleId, actor: Actor) -> Result<(Cycle, Reconciliation), CommandError> {
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
