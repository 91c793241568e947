//! Exports of the indicators: DHIS2 data value sets and CSV.

use jigi_common::{AreaLevel, Period};
use jigi_server::CommandError;

use super::{IndicatorRow, Monitoring};
use crate::domain::dhis2::{self, DataValueSet};
use crate::domain::indicators::Indicators;
use crate::storage::indicators::Scope;

/// A DHIS2 data value set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dhis2Export {
    /// The document, as DHIS2's `/api/dataValueSets` takes it.
    pub json: String,
    /// Values in it.
    pub data_values: usize,
    /// Areas with data that the mapping does not name.
    pub unmapped_areas: Vec<String>,
}

impl Monitoring {
    /// Every row to export for an area: the area itself and every region,
    /// cercle and commune below it, all read in one snapshot.
    async fn export_rows(
        &self,
        root: Option<(AreaLevel, String)>,
        period: Period,
    ) -> Result<Vec<IndicatorRow>, CommandError> {
        let levels: Vec<Option<AreaLevel>> = std::iter::once(None)
            .chain(
                [AreaLevel::Region, AreaLevel::Cercle, AreaLevel::Commune]
                    .into_iter()
                    .filter(|level| root.as_ref().is_none_or(|(root_level, _)| level > root_level))
                    .map(Some),
            )
            .collect();
        let this = self.clone();
        self.db
            .read(move |conn| {
                let mut rows = Vec::new();
                for breakdown in levels {
                    let scope = Scope {
                        area: root.clone(),
                        breakdown,
                    };
                    rows.extend(this.rows_in(conn, &scope, period)?);
                }
                Ok(rows)
            })
            .await
    }

    /// A DHIS2 data value set of an area's indicators and those of every
    /// area below it.
    pub async fn export_dhis2(
        &self,
        area: Option<(AreaLevel, String)>,
        period: Period,
    ) -> Result<Dhis2Export, CommandError> {
        let rows = self.export_rows(area, period).await?;
        let mut values = Vec::new();
        let mut unmapped_areas = Vec::new();
        for row in &rows {
            let named = row.indicators.named_values();
            match dhis2::data_values(&self.mapping, &row.area, &row.period.to_string(), &named) {
                Some(mut data) => values.append(&mut data),
                None if row.indicators != Indicators::default() => unmapped_areas.push(row.area.clone()),
                None => {}
            }
        }
        let data_values = values.len();
        // Strings only: serializing to a string cannot fail.
        let json =
            serde_json::to_string_pretty(&DataValueSet { data_values: values }).expect("a data value set serializes");
        Ok(Dhis2Export {
            json,
            data_values,
            unmapped_areas,
        })
    }

    /// CSV: `area,area_name,period,indicator,value`.
    pub async fn export_csv(&self, area: Option<(AreaLevel, String)>, period: Period) -> Result<String, CommandError> {
        let rows = self.export_rows(area, period).await?;
        let mut csv = String::from("area,area_name,period,indicator,value\n");
        for row in rows {
            for (name, value) in row.indicators.named_values() {
                csv.push_str(&format!(
                    "{},{},{},{},{}\n",
                    row.area,
                    csv_field(&row.area_name),
                    row.period,
                    name,
                    dhis2::format_value(value)
                ));
            }
        }
        Ok(csv)
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
