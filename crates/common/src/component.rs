//! The programme's components, in the programme's own abbreviations.

use std::fmt;

use jigi_proto::common::Component as ProtoComponent;

use crate::Fcfa;

/// The programme rule for HIMO wages: a household earns at most this in a
/// quarter (60 days at the usual 1,500 FCFA a day). The activities service
/// refuses a day of attendance that would pass it; the payments service
/// refuses a wage entitlement over it.
pub const HIMO_WAGE_CAP_PER_QUARTER: Fcfa = Fcfa::new(90_000);

/// A component of the programme a household can be enrolled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Transferts monétaires: quarterly cash transfers.
    Tm,
    /// Mesures d'accompagnement: accompanying measures.
    Ma,
    /// Paquet nutritionnel préventif: enriched flour.
    Pnp,
    /// Activités génératrices de revenus.
    Agr,
    /// Haute intensité de main d'oeuvre: public works.
    Himo,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::Tm,
        Component::Ma,
        Component::Pnp,
        Component::Agr,
        Component::Himo,
    ];

    /// The abbreviation used in storage, CSV and reports: `TM`, `MA`, `PNP`, `AGR`, `HIMO`.
    pub fn code(self) -> &'static str {
        match self {
            Component::Tm => "TM",
            Component::Ma => "MA",
            Component::Pnp => "PNP",
            Component::Agr => "AGR",
            Component::Himo => "HIMO",
        }
    }

    /// Parses an abbreviation as [`Component::code`] writes it.
    pub fn from_code(code: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.code() == code)
    }

    /// From the wire enum; `None` for `COMPONENT_UNSPECIFIED` and unknown values.
    pub fn from_proto(value: i32) -> Option<Component> {
        match ProtoComponent::try_from(value).ok()? {
            ProtoComponent::Unspecified => None,
            ProtoComponent::Tm => Some(Component::Tm),
            ProtoComponent::Ma => Some(Component::Ma),
            ProtoComponent::Pnp => Some(Component::Pnp),
            ProtoComponent::Agr => Some(Component::Agr),
            ProtoComponent::Himo => Some(Component::Himo),
        }
    }

    pub fn to_proto(self) -> ProtoComponent {
        match self {
            Component::Tm => ProtoComponent::Tm,
            Component::Ma => ProtoComponent::Ma,
            Component::Pnp => ProtoComponent::Pnp,
            Component::Agr => ProtoComponent::Agr,
            Component::Himo => ProtoComponent::Himo,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_wire_values_round_trip() {
        for component in Component::ALL {
            assert_eq!(Component::from_code(component.code()), Some(component));
            assert_eq!(Component::from_proto(component.to_proto() as i32), Some(component));
        }
        assert_eq!(Component::from_proto(0), None);
        assert_eq!(Component::from_proto(99), None);
    }
}
