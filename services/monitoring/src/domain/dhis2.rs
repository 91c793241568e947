//! DHIS2 data value sets: Jigi's indicators under DHIS2's identifiers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The mapping built into the service (`config/dhis2.toml`).
pub const BUILT_IN: &str = include_str!("../../config/dhis2.toml");

/// The code DHIS2's mapping uses for the whole country.
pub const COUNTRY: &str = "mali";

/// Indicator names and geography codes to DHIS2 UIDs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub data_elements: BTreeMap<String, String>,
    pub org_units: BTreeMap<String, String>,
}

/// Why a mapping file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("DHIS2 mapping does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("DHIS2 mapping: {0:?} is not a DHIS2 UID (11 letters or digits, starting with a letter)")]
    BadUid(String),
}

impl Mapping {
    pub fn built_in() -> Mapping {
        Mapping::parse(BUILT_IN).expect("the built-in DHIS2 mapping is valid")
    }

    pub fn parse(text: &str) -> Result<Mapping, MappingError> {
        let mapping: Mapping = toml::from_str(text)?;
        for uid in mapping.data_elements.values().chain(mapping.org_units.values()) {
            if !is_uid(uid) {
                return Err(MappingError::BadUid(uid.clone()));
            }
        }
        Ok(mapping)
    }
}

/// DHIS2 UIDs: 11 alphanumeric characters, the first a letter.
fn is_uid(text: &str) -> bool {
    text.len() == 11
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric())
}

/// One `dataValues` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValue {
    pub data_element: String,
    pub period: String,
    pub org_unit: String,
    /// DHIS2 takes values as strings.
    pub value: String,
}

/// The document DHIS2's `/api/dataValueSets` accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValueSet {
    pub data_values: Vec<DataValue>,
}

/// A value as DHIS2 reads it: integers without a decimal point, rates with four decimals.
pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.4}")
    }
}

/// The data values of one area's indicators: only mapped indicators, and
/// nothing for an unmapped area (`None`).
pub fn data_values(mapping: &Mapping, area: &str, period: &str, values: &[(String, f64)]) -> Option<Vec<DataValue>> {
    let org_unit = mapping.org_units.get(if area.is_empty() { COUNTRY } else { area })?;
    Some(
        values
            .iter()
            .filter_map(|(name, value)| {
                mapping.data_elements.get(name).map(|element| DataValue {
                    data_element: element.clone(),
                    period: period.to_owned(),
                    org_unit: org_unit.clone(),
                    value: format_value(*value),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_mapping_is_valid_and_covers_every_region() {
        let mapping = Mapping::built_in();
        for region in jigi_common::Region::ALL {
            assert!(mapping.org_units.contains_key(region.slug()), "{region}");
        }
        assert!(mapping.org_units.contains_key(COUNTRY));
    }

    #[test]
    fn maps_values_and_skips_what_is_not_mapped() {
        let mapping = Mapping::built_in();
        let values = vec![
            ("households_paid".to_owned(), 19_837.0),
            ("payment_success_rate".to_owned(), 0.94462),
            ("not_a_mapped_indicator".to_owned(), 1.0),
        ];
        let data = data_values(&mapping, "sikasso", "2018Q4", &values).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].value, "19837");
        assert_eq!(data[1].value, "0.9446");
        assert_eq!(data[0].org_unit, "MLiSikasso1");
        let json = serde_json::to_string(&DataValueSet { data_values: data }).unwrap();
        assert!(json.starts_with(r#"{"dataValues":[{"dataElement":"JgTmHhPaid1","period":"2018Q4","orgUnit":"MLiSikasso1","value":"19837"}"#), "{json}");
        assert_eq!(data_values(&mapping, "sikasso.kadiolo", "2018Q4", &values), None);
    }

    #[test]
    fn refuses_malformed_uids() {
        let text = BUILT_IN.replace("\"MLiSikasso1\"", "\"sikasso\"");
        assert!(matches!(Mapping::parse(&text), Err(MappingError::BadUid(_))));
    }
}
