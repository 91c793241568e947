//! Reconciliation: what a cycle expected against what its agents reported,
//! in total, by commune and by agent. Every line adds up: expected = paid +
//! failed + not collected + outstanding, in count and in amount.

use std::collections::BTreeMap;

use super::model::{AgentCode, Channel, Cycle, CycleStatus, EntitlementStatus, Place, Totals};

/// A commune's entitlements in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub place: Place,
    pub status: EntitlementStatus,
    pub totals: Totals,
}

/// One line of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The commune, for a commune line.
    pub place: Option<Place>,
    /// The agent, for an agent line (and a commune line's agent).
    pub agent: Option<(AgentCode, Channel)>,
    pub expected: Totals,
    pub paid: Totals,
    pub failed: Totals,
    pub not_collected: Totals,
    pub outstanding: Totals,
}

impl Line {
    fn count(&mut self, status: EntitlementStatus, totals: Totals) {
        self.expected.add(totals);
        match status {
            EntitlementStatus::Pending => self.outstanding.add(totals),
            EntitlementStatus::Paid => self.paid.add(totals),
            EntitlementStatus::Failed => self.failed.add(totals),
            EntitlementStatus::NotCollected => self.not_collected.add(totals),
        }
    }

    fn merge(&mut self, other: &Line) {
        self.expected.add(other.expected);
        self.paid.add(other.paid);
        self.failed.add(other.failed);
        self.not_collected.add(other.not_collected);
        self.outstanding.add(other.outstanding);
    }

    /// Whether the parts add up to what was expected.
    pub fn adds_up(&self) -> bool {
        let mut parts = self.paid;
        parts.add(self.failed);
        parts.add(self.not_collected);
        parts.add(self.outstanding);
        parts == self.expected
    }
}

/// A cycle's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub cycle_id: String,
    pub status: CycleStatus,
    pub control: Totals,
    pub total: Line,
    pub by_commune: Vec<Line>,
    pub by_agent: Vec<Line>,
}

/// Builds the reconciliation of `cycle` from its counts per commune and status.
pub fn reconcile(cycle: &Cycle, counts: &[StatusCount]) -> Reconciliation {
    let mut communes: BTreeMap<&str, Line> = BTreeMap::new();
    for count in counts {
        let line = communes.entry(count.place.commune.as_str()).or_insert_with(|| Line {
            place: Some(count.place.clone()),
            agent: cycle
                .agent_of(&count.place.commune)
                .map(|a| (a.agent.clone(), a.channel)),
            ..Line::default()
        });
        line.count(count.status, count.totals);
    }
    let mut agents: BTreeMap<AgentCode, Line> = BTreeMap::new();
    let mut total = Line::default();
    for line in communes.values() {
        total.merge(line);
        if let Some((agent, channel)) = &line.agent {
            agents
                .entry(agent.clone())
                .or_insert_with(|| Line {
                    agent: Some((agent.clone(), *channel)),
                    ..Line::default()
                })
                .merge(line);
        }
    }
    Reconciliation {
        cycle_id: cycle.cycle_id.clone(),
        status: cycle.status,
        control: cycle.control,
        total,
        by_commune: communes.into_values().collect(),
        by_agent: agents.into_values().collect(),
    }
}

/// The closing figures of a reconciliation, for the closed event.
pub fn outcomes(reconciliation: &Reconciliation) -> crate::events::Outcomes {
    crate::events::Outcomes {
        paid: reconciliation.total.paid,
        failed: reconciliation.total.failed,
        not_collected: reconciliation.total.not_collected,
        outstanding: reconciliation.total.outstanding,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use jigi_common::{Fcfa, Region};

    use super::*;
    use crate::domain::model::{Assignment, FundingSource};

    fn place(commune: &str) -> Place {
        Place {
            region: "sikasso".into(),
            cercle: "sikasso.c".into(),
            commune: commune.into(),
            village: String::new(),
        }
    }

    #[test]
    fn lines_add_up_by_commune_and_agent() {
        let agent = |code: &str, commune: &str| Assignment {
            commune: commune.into(),
            agent: AgentCode::parse(code).unwrap(),
            channel: Channel::Cash,
        };
        let cycle = Cycle {
            cycle_id: "c".into(),
            region: Region::Sikasso,
            kind: crate::domain::model::CycleKind::Tm,
            period: "2019Q1".parse().unwrap(),
            funding_source: FundingSource::StateBudget,
            amount_per_household: Fcfa::new(30_000),
            communes: vec![],
            status: CycleStatus::Disbursing,
            frozen: Totals::new(6, 180_000),
            control: Totals::new(6, 180_000),
            paid: Totals::new(3, 90_000),
            prepared_by: "p".into(),
            frozen_by: None,
            approved_by: None,
            ended_by: None,
            cancel_reason: None,
            opened_at: Utc::now(),
            frozen_at: None,
            approved_at: None,
            ended_at: None,
            agents: vec![
                agent("A", "sikasso.c.x"),
                agent("A", "sikasso.c.y"),
                agent("B", "sikasso.c.z"),
            ],
        };
        let count = |commune: &str, status, n: i64| StatusCount {
            place: place(commune),
            status,
            totals: Totals::new(n, n * 30_000),
        };
        let counts = [
            count("sikasso.c.x", EntitlementStatus::Paid, 2),
            count("sikasso.c.x", EntitlementStatus::Failed, 1),
            count("sikasso.c.y", EntitlementStatus::Pending, 1),
            count("sikasso.c.z", EntitlementStatus::Paid, 1),
            count("sikasso.c.z", EntitlementStatus::NotCollected, 1),
        ];
        let r = reconcile(&cycle, &counts);
        assert_eq!(r.total.expected, Totals::new(6, 180_000));
        assert_eq!(r.total.paid, Totals::new(3, 90_000));
        assert_eq!(r.by_commune.len(), 3);
        assert_eq!(r.by_agent.len(), 2);
        assert_eq!(r.by_agent[0].expected, Totals::new(4, 120_000));
        assert_eq!(r.by_agent[0].outstanding, Totals::new(1, 30_000));
        assert!(r.total.adds_up());
        assert!(r.by_commune.iter().chain(&r.by_agent).all(Line::adds_up));
    }
}
