//! AGR business plans, their tranches and follow-up visits.

use jigi_common::Fcfa;
use jigi_common::date::format_date;
use jigi_storage::{Conn, StorageError, params};

use super::{date, decode_error, region};
use crate::domain::agr::{ActivityType, Plan, StopReason, Tranche, Visit};
use crate::domain::model::Location;

/// Stores a new plan (without tranches or visits).
pub fn insert_plan(conn: &mut Conn, plan: &Plan) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO agr_plans (household_id, region, cercle, commune, village, activity_type, planned_grant, approved_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            plan.household_id,
            plan.location.region.slug(),
            plan.location.cercle,
            plan.location.commune,
            plan.location.village,
            plan.activity_type.code(),
            plan.planned_grant.francs(),
            format_date(plan.approved_on)
        ],
    )?;
    Ok(())
}

pub fn insert_tranche(conn: &mut Conn, household_id: &str, tranche: &Tranche) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO agr_tranches (tranche_id, household_id, number, amount, released_on) VALUES ($1, $2, $3, $4, $5)",
        params![
            tranche.tranche_id,
            household_id,
            i64::from(tranche.number),
            tranche.amount.francs(),
            format_date(tranche.released_on)
        ],
    )?;
    Ok(())
}

pub fn insert_visit(conn: &mut Conn, household_id: &str, visit: &Visit) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO agr_visits (household_id, month, visited_on, stop_reason) VALUES ($1, $2, $3, $4)",
        params![
            household_id,
            i64::from(visit.month),
            format_date(visit.visited_on),
            visit.stopped.map(StopReason::code)
        ],
    )?;
    Ok(())
}

/// A household's plan with its tranches and visits.
pub fn load(conn: &mut Conn, household_id: &str) -> Result<Option<Plan>, StorageError> {
    let Some(row) = conn.query_opt(
        "SELECT household_id, region, cercle, commune, village, activity_type, planned_grant, approved_on \
         FROM agr_plans WHERE household_id = $1",
        params![household_id],
    )?
    else {
        return Ok(None);
    };
    let activity: String = row.get(5)?;
    let mut plan = Plan {
        household_id: row.get(0)?,
        location: Location {
            region: region(&row.get::<String>(1)?)?,
            cercle: row.get(2)?,
            commune: row.get(3)?,
            village: row.get(4)?,
        },
        activity_type: ActivityType::from_code(&activity)
            .ok_or_else(|| decode_error(format!("unknown activity type {activity}")))?,
        planned_grant: Fcfa::new(row.get(6)?),
        approved_on: date(&row.get::<String>(7)?)?,
        tranches: Vec::new(),
        visits: Vec::new(),
    };
    for row in conn.query(
        "SELECT tranche_id, number, amount, released_on FROM agr_tranches WHERE household_id = $1 ORDER BY number",
        params![household_id],
    )? {
        plan.tranches.push(Tranche {
            tranche_id: row.get(0)?,
            number: row.get::<i64>(1)? as i32,
            amount: Fcfa::new(row.get(2)?),
            released_on: date(&row.get::<String>(3)?)?,
        });
    }
    for row in conn.query(
        "SELECT month, visited_on, stop_reason FROM agr_visits WHERE household_id = $1 ORDER BY month",
        params![household_id],
    )? {
        let reason: Option<String> = row.get(2)?;
        plan.visits.push(Visit {
            month: row.get::<i64>(0)? as u32,
            visited_on: date(&row.get::<String>(1)?)?,
            stopped: reason
                .map(|code| {
                    StopReason::from_code(&code).ok_or_else(|| decode_error(format!("unknown stop reason {code}")))
                })
                .transpose()?,
        });
    }
    Ok(Some(plan))
}
