//! Indicators per area and period, per cycle, and for the gauges.

use std::collections::BTreeMap;

use chrono::Utc;
use jigi_common::{AreaLevel, Period, Region};
use jigi_server::CommandError;
use jigi_storage::Conn;

use super::{Fresh, Freshness, Monitoring};
use crate::domain::indicators::Indicators;
use crate::storage::indicators::{self as queries, CycleIndicators, Scope};

/// A row of indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    pub area: String,
    pub area_name: String,
    pub period: Period,
    pub indicators: Indicators,
}

/// The indicators asked for, and how fresh each region's figures are, read
/// in one snapshot.
pub type IndicatorReport = Fresh<Vec<IndicatorRow>>;

impl Monitoring {
    /// Indicators for an area over a period, broken down as asked, with
    /// every region's freshness.
    pub async fn indicators(
        &self,
        area: Option<(AreaLevel, String)>,
        period: Period,
        breakdown: Option<AreaLevel>,
    ) -> Result<IndicatorReport, CommandError> {
        let scope = Scope { area, breakdown };
        let this = self.clone();
        self.db
            .read(move |conn| {
                let rows = this.rows_in(conn, &scope, period)?;
                this.fresh(conn, rows)
            })
            .await
    }

    /// Rows for every area of the scope (those without facts too), in code order.
    pub(super) fn rows_in(
        &self,
        conn: &mut Conn,
        scope: &Scope,
        period: Period,
    ) -> Result<Vec<IndicatorRow>, CommandError> {
        let mut computed = queries::compute(conn, scope, period)?;
        let codes: Vec<String> = match scope.breakdown {
            None => vec![scope.area.as_ref().map(|(_, code)| code.clone()).unwrap_or_default()],
            Some(level) => {
                let root = scope.area.as_ref().map(|(_, code)| code.as_str());
                let mut codes: Vec<String> = self
                    .geography
                    .areas(root)
                    .filter(|a| a.level == level && self.regions.contains(&a.region()))
                    .map(|a| a.code.clone())
                    .collect();
                // Facts in areas the reference does not know still show.
                codes.extend(computed.keys().filter(|k| !k.is_empty()).cloned());
                codes.sort();
                codes.dedup();
                codes
            }
        };
        Ok(codes
            .into_iter()
            .map(|code| IndicatorRow {
                area_name: self.area_name(&code),
                indicators: computed.remove(&code).unwrap_or_default(),
                area: code,
                period,
            })
            .collect())
    }

    fn area_name(&self, code: &str) -> String {
        if code.is_empty() {
            return "Mali".to_owned();
        }
        self.geography
            .get(code)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| code.to_owned())
    }

    /// Payment indicators per cycle, of a region (every region when `None`)
    /// and a period (every period when `None`).
    pub async fn cycles(
        &self,
        region: Option<Region>,
        period: Option<Period>,
    ) -> Result<Fresh<Vec<CycleIndicators>>, CommandError> {
        let this = self.clone();
        let mut cycles = self
            .db
            .read(move |conn| {
                let cycles = queries::cycles(conn)?;
                this.fresh(conn, cycles)
            })
            .await?;
        cycles.value.retain(|cycle| {
            region.is_none_or(|region| cycle.region == region.slug())
                && match period {
                    None => true,
                    Some(period) => cycle.period.parse::<Period>().is_ok_and(|p| period.contains(p.start())),
                }
        });
        Ok(cycles)
    }

    /// Per-region figures for the Prometheus gauges (registered, enrolled
    /// per component, paid this year, flour this year), and every region's
    /// freshness, in one snapshot.
    pub async fn gauges(&self) -> Result<(BTreeMap<String, Indicators>, Vec<Freshness>), CommandError> {
        let year = Period::Year(chrono::Datelike::year(&Utc::now().date_naive()));
        let scope = Scope {
            area: None,
            breakdown: Some(AreaLevel::Region),
        };
        let this = self.clone();
        self.db
            .read(move |conn| {
                let regions = queries::compute(conn, &scope, year)?;
                Ok((regions, this.freshness_in(conn)?))
            })
            .await
    }
}
