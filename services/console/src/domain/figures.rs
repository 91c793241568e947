//! The figures of one area over one period, as the monitoring reports them,
//! and the budget and cycles beside them.

use chrono::{DateTime, Utc};
use jigi_common::Region;

/// Every indicator the glance pages show for one area and period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Geography code; empty for the whole country.
    pub area: String,
    /// Display name, `Mali` for the country.
    pub name: String,
    pub period: String,
    pub households_registered: i64,
    /// Households enrolled per component (`TM`, `PNP`…), in the monitoring's order.
    pub enrolled: Vec<(String, i64)>,
    pub households_paid: i64,
    pub amount_paid_fcfa: i64,
    pub payments_failed: i64,
    pub payments_not_collected: i64,
    /// Payments made ÷ results reported, 0 to 1.
    pub success_rate: f64,
    pub children_reached: i64,
    pub pregnant_women_reached: i64,
    pub lactating_women_reached: i64,
    pub flour_grams: i64,
}

impl Figures {
    /// Households enrolled in `component` (0 when none).
    pub fn enrolled_in(&self, component: &str) -> i64 {
        self.enrolled
            .iter()
            .find(|(name, _)| name == component)
            .map(|(_, count)| *count)
            .unwrap_or(0)
    }
}

/// How fresh a region's figures are.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub region: Region,
    pub staleness: Staleness,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_event_time: Option<DateTime<Utc>>,
    pub lag_p50_seconds: f64,
    pub lag_p99_seconds: f64,
    pub events_received: i64,
}

/// Whether a region's events are arriving, as the monitoring judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    Live,
    Silent,
    NeverHeard,
}

/// How far into the national stream an answer's figures go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AsOf {
    pub applied_at: Option<DateTime<Utc>>,
    pub events_waiting: u64,
}

/// One line of the PTBA and its execution.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub component: String,
    pub funder: String,
    pub forecast_fcfa: i64,
    pub achieved_fcfa: i64,
    pub execution_rate: f64,
}

/// A year's budget.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    pub year: i32,
    pub lines: Vec<BudgetRow>,
    /// Per component (funder empty).
    pub components: Vec<BudgetRow>,
    pub forecast_fcfa: i64,
    pub achieved_fcfa: i64,
    pub execution_rate: f64,
}

impl Budget {
    /// The budget as CSV: one line per budget line, then per component and
    /// the total, amounts in whole FCFA and rates from 0 to 1 (what a
    /// spreadsheet reads without locale trouble).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("year,component,funder,forecast_fcfa,achieved_fcfa,execution_rate\n");
        let rows = self.lines.iter().chain(self.components.iter());
        for row in rows {
            out.push_str(&format!(
                "{},{},{},{},{},{:.4}\n",
                self.year,
                csv_field(&row.component),
                csv_field(&row.funder),
                row.forecast_fcfa,
                row.achieved_fcfa,
                row.execution_rate
            ));
        }
        out.push_str(&format!(
            "{},total,,{},{},{:.4}\n",
            self.year, self.forecast_fcfa, self.achieved_fcfa, self.execution_rate
        ));
        out
    }
}

/// A CSV field, quoted when it holds a separator, a quote or a line break,
/// and prefixed so a spreadsheet never reads it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The payment indicators of one cycle, with its control totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub cycle_id: String,
    pub region: String,
    pub period: String,
    pub funder: String,
    pub status: String,
    pub expected_households: i64,
    pub expected_fcfa: i64,
    pub households_paid: i64,
    pub paid_fcfa: i64,
    pub payments_failed: i64,
    pub payments_not_collected: i64,
    pub outstanding_fcfa: i64,
    pub success_rate: f64,
}

impl Cycle {
    /// Whether the money adds up: what was paid and what remains to pay
    /// make the approved amount.
    pub fn reconciled(&self) -> bool {
        self.paid_fcfa + self.outstanding_fcfa == self.expected_fcfa
    }
}

/// A PNP distribution round: what the monitoring counted of its rations
/// and, once closed, what its region reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub round_id: String,
    pub region: String,
    /// The quarter of its first day.
    pub period: String,
    pub starts_on: String,
    pub ends_on: String,
    /// Empty while open.
    pub closed_on: String,
    pub closed: bool,
    pub pilot_communes: i64,
    pub households_served: i64,
    /// Children, pregnant women, lactating women served.
    pub served: [i64; 3],
    pub rations: i64,
    pub flour_grams: i64,
    pub lost_grams: i64,
    /// What the region reported at closing.
    pub reported: Option<RoundReport>,
    /// Closed, and the region's figures equal the monitoring's count.
    pub reconciled: bool,
}

/// A region's figures at a round's closing.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// Children, pregnant women, lactating women eligible at opening.
    pub planned: [i64; 3],
    /// Children, pregnant women, lactating women the region counted served.
    pub reached: [i64; 3],
    pub distributed_grams: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_csv_has_a_line_per_budget_line_component_and_total() {
        let row = |component: &str, funder: &str, forecast, achieved| BudgetRow {
            component: component.into(),
            funder: funder.into(),
            forecast_fcfa: forecast,
            achieved_fcfa: achieved,
            execution_rate: achieved as f64 / forecast as f64,
        };
        let budget = Budget {
            year: 2018,
            lines: vec![row("TM", "World Bank, IDA", 1000, 250)],
            components: vec![row("TM", "", 1000, 250)],
            forecast_fcfa: 1000,
            achieved_fcfa: 250,
            execution_rate: 0.25,
        };
        assert_eq!(
            budget.to_csv(),
            "year,component,funder,forecast_fcfa,achieved_fcfa,execution_rate\n\
             2018,TM,\"World Bank, IDA\",1000,250,0.2500\n\
             2018,TM,,1000,250,0.2500\n\
             2018,total,,1000,250,0.2500\n"
        );
    }

    #[test]
    fn a_formula_in_a_field_is_defused() {
        assert_eq!(csv_field("=HYPERLINK(x)"), "'=HYPERLINK(x)");
    }
}
