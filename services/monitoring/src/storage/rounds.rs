//! PNP rounds: each round as its opening and closing described it, with
//! what the monitoring counted of its distributions and of the flour lost in
//! its communes while it ran.

use jigi_storage::{Conn, StorageError};

use crate::domain::rounds::{RoundControl, RoundFigures};

/// Every round, by region, year, number and ID.
pub fn rounds(conn: &mut Conn) -> Result<Vec<RoundFigures>, StorageError> {
    let mut rounds = Vec::new();
    // Losses count from the first day to the closing, or to the last day
    // while the round is open.
    conn.query_each(
        "SELECT r.round_id, r.region, r.year, r.number, r.period, r.starts_on, r.ends_on, r.closed_on, r.status, \
         r.has_control, r.planned_children, r.planned_pregnant, r.planned_lactating, \
         r.reached_children, r.reached_pregnant, r.reached_lactating, r.reported_grams, r.stock_on_hand_grams, \
         (SELECT COUNT(*) FROM facts_round_communes rc WHERE rc.round_id = r.round_id), \
         COUNT(DISTINCT d.household_id), \
         COUNT(DISTINCT CASE WHEN d.beneficiary_group = 'child' THEN d.member_id END), \
         COUNT(DISTINCT CASE WHEN d.beneficiary_group = 'pregnant' THEN d.member_id END), \
         COUNT(DISTINCT CASE WHEN d.beneficiary_group = 'lactating' THEN d.member_id END), \
         COUNT(d.event_id), \
         CAST(COALESCE(SUM(d.grams), 0) AS BIGINT), \
         (SELECT CAST(COALESCE(SUM(l.grams), 0) AS BIGINT) FROM facts_stock_losses l \
          JOIN facts_round_communes rc ON rc.commune = l.commune AND rc.round_id = r.round_id \
          WHERE l.occurred_on >= r.starts_on \
          AND l.occurred_on <= CASE WHEN r.closed_on <> '' THEN r.closed_on ELSE r.ends_on END) \
         FROM facts_rounds r LEFT JOIN facts_distributions d ON d.round_id = r.round_id \
         GROUP BY r.round_id, r.region, r.year, r.number, r.period, r.starts_on, r.ends_on, r.closed_on, r.status, \
         r.has_control, r.planned_children, r.planned_pregnant, r.planned_lactating, \
         r.reached_children, r.reached_pregnant, r.reached_lactating, r.reported_grams, r.stock_on_hand_grams \
         ORDER BY r.region, r.year, r.number, r.round_id",
        &[],
        |row| {
            let has_control: i64 = row.get(9)?;
            rounds.push(RoundFigures {
                round_id: row.get(0)?,
                region: row.get(1)?,
                year: row.get(2)?,
                number: row.get(3)?,
                period: row.get(4)?,
                starts_on: row.get(5)?,
                ends_on: row.get(6)?,
                closed_on: row.get(7)?,
                status: row.get(8)?,
                control: if has_control == 1 {
                    Some(RoundControl {
                        planned: [row.get(10)?, row.get(11)?, row.get(12)?],
                        reached: [row.get(13)?, row.get(14)?, row.get(15)?],
                        distributed_grams: row.get(16)?,
                        stock_on_hand_grams: row.get(17)?,
                    })
                } else {
                    None
                },
                pilot_communes: row.get(18)?,
                households_served: row.get(19)?,
                served: [row.get(20)?, row.get(21)?, row.get(22)?],
                rations: row.get(23)?,
                distributed_grams: row.get(24)?,
                lost_grams: row.get(25)?,
            });
            Ok(())
        },
    )?;
    Ok(rounds)
}
