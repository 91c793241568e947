//! The programme's indicators for one area and period.

use std::collections::BTreeMap;

use jigi_common::{Component, Sex};

/// Every indicator for one area and period. Counts are of distinct
/// households or people where the name says so; amounts are whole FCFA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indicators {
    pub households_registered: i64,
    pub households_registered_in_period: i64,
    pub enrolled: BTreeMap<Component, i64>,
    pub exits: BTreeMap<Component, i64>,
    pub households_paid: i64,
    pub amount_paid: i64,
    pub payments_made: i64,
    pub payments_failed: i64,
    pub payments_not_collected: i64,
    pub amount_outstanding: i64,
    pub pnp_children_reached: i64,
    pub pnp_pregnant_women_reached: i64,
    pub pnp_lactating_women_reached: i64,
    pub flour_distributed_grams: i64,
    pub stock_on_hand_grams: i64,
    pub pilot_communes_covered: i64,
    pub ma_sessions_held: i64,
    pub ma_households_reached: i64,
    pub ma_people_reached: i64,
    /// Per theme code: (sessions, distinct people).
    pub ma_by_theme: BTreeMap<String, (i64, i64)>,
    /// Per (sex wire value, age group code): distinct people.
    pub ma_by_group: BTreeMap<(i32, String), i64>,
    pub agr_business_plans: i64,
    pub agr_tranches_released: i64,
    pub agr_grants_released: i64,
    pub agr_follow_up_visits: i64,
    pub agr_activities_running: i64,
    pub agr_grants_paid: i64,
    pub himo_sites_started: i64,
    pub himo_sites_started_late: i64,
    /// Sum of the start delays of the sites set up in the period, in days.
    pub himo_start_delay_days: i64,
    pub himo_person_days: i64,
    pub himo_women_person_days: i64,
    pub himo_households_working: i64,
    pub himo_wages_due: i64,
    pub himo_wages_paid: i64,
}

impl Indicators {
    /// Payments made ÷ results reported (made, failed, not collected); 0
    /// when nothing was reported.
    pub fn payment_success_rate(&self) -> f64 {
        rate(
            self.payments_made,
            self.payments_made + self.payments_failed + self.payments_not_collected,
        )
    }

    /// Mean days between planned and actual set-up of the sites set up in
    /// the period; 0 when none.
    pub fn himo_mean_start_delay_days(&self) -> f64 {
        rate(self.himo_start_delay_days, self.himo_sites_started)
    }

    /// Flour distributed in tonnes.
    pub fn flour_distributed_tonnes(&self) -> f64 {
        self.flour_distributed_grams as f64 / 1_000_000.0
    }

    /// The indicators by name, as exported (names of jigi.monitoring.v1.Indicators,
    /// with one entry per component for the per-component counts).
    pub fn named_values(&self) -> Vec<(String, f64)> {
        let mut values = vec![
            ("households_registered".to_owned(), self.households_registered as f64),
            (
                "households_registered_in_period".to_owned(),
                self.households_registered_in_period as f64,
            ),
        ];
        for component in Component::ALL {
            let code = component.code().to_ascii_lowercase();
            values.push((
                format!("enrolled_{code}"),
                *self.enrolled.get(&component).unwrap_or(&0) as f64,
            ));
            values.push((
                format!("exits_{code}"),
                *self.exits.get(&component).unwrap_or(&0) as f64,
            ));
        }
        values.extend([
            ("households_paid".to_owned(), self.households_paid as f64),
            ("amount_paid".to_owned(), self.amount_paid as f64),
            ("payments_made".to_owned(), self.payments_made as f64),
            ("payments_failed".to_owned(), self.payments_failed as f64),
            ("payments_not_collected".to_owned(), self.payments_not_collected as f64),
            ("payment_success_rate".to_owned(), self.payment_success_rate()),
            ("amount_outstanding".to_owned(), self.amount_outstanding as f64),
            ("pnp_children_reached".to_owned(), self.pnp_children_reached as f64),
            (
                "pnp_pregnant_women_reached".to_owned(),
                self.pnp_pregnant_women_reached as f64,
            ),
            (
                "pnp_lactating_women_reached".to_owned(),
                self.pnp_lactating_women_reached as f64,
            ),
            (
                "flour_distributed_grams".to_owned(),
                self.flour_distributed_grams as f64,
            ),
            ("flour_distributed_tonnes".to_owned(), self.flour_distributed_tonnes()),
            ("stock_on_hand_grams".to_owned(), self.stock_on_hand_grams as f64),
            ("pilot_communes_covered".to_owned(), self.pilot_communes_covered as f64),
            ("ma_sessions_held".to_owned(), self.ma_sessions_held as f64),
            ("ma_households_reached".to_owned(), self.ma_households_reached as f64),
            ("ma_people_reached".to_owned(), self.ma_people_reached as f64),
        ]);
        for (theme, (sessions, people)) in &self.ma_by_theme {
            values.push((format!("ma_sessions_{theme}"), *sessions as f64));
            values.push((format!("ma_people_reached_{theme}"), *people as f64));
        }
        for ((sex, age_group), people) in &self.ma_by_group {
            let sex = Sex::from_proto(*sex).map_or("unknown", Sex::code);
            values.push((format!("ma_people_reached_{sex}_{age_group}"), *people as f64));
        }
        values.extend([
            ("agr_business_plans".to_owned(), self.agr_business_plans as f64),
            ("agr_tranches_released".to_owned(), self.agr_tranches_released as f64),
            ("agr_grants_released".to_owned(), self.agr_grants_released as f64),
            ("agr_follow_up_visits".to_owned(), self.agr_follow_up_visits as f64),
            ("agr_activities_running".to_owned(), self.agr_activities_running as f64),
            ("agr_grants_paid".to_owned(), self.agr_grants_paid as f64),
            ("himo_sites_started".to_owned(), self.himo_sites_started as f64),
            (
                "himo_sites_started_late".to_owned(),
                self.himo_sites_started_late as f64,
            ),
            (
                "himo_mean_start_delay_days".to_owned(),
                self.himo_mean_start_delay_days(),
            ),
            ("himo_person_days".to_owned(), self.himo_person_days as f64),
            ("himo_women_person_days".to_owned(), self.himo_women_person_days as f64),
            (
                "himo_households_working".to_owned(),
                self.himo_households_working as f64,
            ),
            ("himo_wages_due".to_owned(), self.himo_wages_due as f64),
            ("himo_wages_paid".to_owned(), self.himo_wages_paid as f64),
        ]);
        values
    }
}

/// `part ÷ whole`, or 0 when `whole` is 0.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_counts_every_reported_result() {
        let indicators = Indicators {
            payments_made: 19_837,
            payments_failed: 1_000,
            payments_not_collected: 163,
            ..Default::default()
        };
        assert_eq!(indicators.payment_success_rate(), 19_837.0 / 21_000.0);
        assert_eq!(Indicators::default().payment_success_rate(), 0.0);
    }

    #[test]
    fn tonnes_from_grams() {
        let indicators = Indicators {
            flour_distributed_grams: 1_627_000_000_000,
            ..Default::default()
        };
        assert_eq!(indicators.flour_distributed_tonnes(), 1_627_000.0);
    }

    #[test]
    fn every_component_has_a_named_value() {
        let names: Vec<String> = Indicators::default()
            .named_values()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.contains(&"enrolled_tm".to_owned()));
        assert!(names.contains(&"exits_himo".to_owned()));
        assert_eq!(
            names.len(),
            names.iter().collect::<std::collections::HashSet<_>>().len()
        );
    }
}
