//! Households and members as the registry holds them.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::{Component, Sex};

pub use jigi_common::Location;

/// A person's name part: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<PersonName, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("is required".into());
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!("is longer than {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("contains control characters".into());
        }
        Ok(PersonName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A national ID-card number, normalised: upper case, spaces and dashes
/// removed, 8 to 20 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdCardNumber(String);

impl IdCardNumber {
    pub fn parse(text: &str) -> Result<IdCardNumber, String> {
        let normalised: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !(8..=20).contains(&normalised.len()) || !normalised.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("must be 8 to 20 letters or digits".into());
        }
        Ok(IdCardNumber(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(text: &str) -> Result<PhoneNumber, String> {
        let compact: String = text.chars().filter(|c| *c != ' ').collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be in E.164 form: + then 8 to 15 digits, e.g. +22376123456".into());
        }
        Ok(PhoneNumber(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a member is related to the head of the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Head,
    Spouse,
    Child,
    Grandchild,
    Parent,
    Sibling,
    OtherRelative,
    NotRelated,
}

impl Relation {
    pub const ALL: [Relation; 8] = [
        Relation::Head,
        Relation::Spouse,
        Relation::Child,
        Relation::Grandchild,
        Relation::Parent,
        Relation::Sibling,
        Relation::OtherRelative,
        Relation::NotRelated,
    ];
}

/// Whether a member still lives in the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Present,
    Left,
    Deceased,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 3] = [MemberStatus::Present, MemberStatus::Left, MemberStatus::Deceased];
}

/// The roof's main material. `Unknown`: not observed (the survey may leave
/// it out; the PMT gives it its own points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoofMaterial {
    Unknown,
    Thatch,
    Earth,
    MetalSheet,
    Concrete,
}

impl RoofMaterial {
    pub const ALL: [RoofMaterial; 5] = [
        RoofMaterial::Unknown,
        RoofMaterial::Thatch,
        RoofMaterial::Earth,
        RoofMaterial::MetalSheet,
        RoofMaterial::Concrete,
    ];
}

/// The walls' main material; `Unknown` as for the roof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WallMaterial {
    Unknown,
    Straw,
    MudBrick,
    Stone,
    Cement,
}

impl WallMaterial {
    pub const ALL: [WallMaterial; 5] = [
        WallMaterial::Unknown,
        WallMaterial::Straw,
        WallMaterial::MudBrick,
        WallMaterial::Stone,
        WallMaterial::Cement,
    ];
}

/// The floor's main material; `Unknown` as for the roof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloorMaterial {
    Unknown,
    Earth,
    Cement,
    Tiles,
}

impl FloorMaterial {
    pub const ALL: [FloorMaterial; 4] = [
        FloorMaterial::Unknown,
        FloorMaterial::Earth,
        FloorMaterial::Cement,
        FloorMaterial::Tiles,
    ];
}

/// Why a household left a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    Graduated,
    Moved,
    Dissolved,
    Ineligible,
    Voluntary,
    /// Explained in the exit's note.
    Other,
}

impl ExitReason {
    pub const ALL: [ExitReason; 6] = [
        ExitReason::Graduated,
        ExitReason::Moved,
        ExitReason::Dissolved,
        ExitReason::Ineligible,
        ExitReason::Voluntary,
        ExitReason::Other,
    ];
}

/// A person of a household.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub member_id: String,
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub birth_date_estimated: bool,
    pub relation: Relation,
    pub pregnant: bool,
    pub lactating: bool,
    pub id_card: Option<IdCardNumber>,
    pub phone: Option<PhoneNumber>,
    pub status: MemberStatus,
}

impl Member {
    pub fn is_present(&self) -> bool {
        self.status == MemberStatus::Present
    }

    pub fn is_head(&self) -> bool {
        self.relation == Relation::Head
    }
}

/// Durable goods owned (counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assets {
    pub radios: u32,
    pub televisions: u32,
    pub mobile_phones: u32,
    pub bicycles: u32,
    pub motorcycles: u32,
    pub carts: u32,
    pub ploughs: u32,
    pub solar_panels: u32,
}

/// Animals owned (head counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Livestock {
    pub cattle: u32,
    pub sheep_goats: u32,
    pub donkeys: u32,
    pub horses: u32,
    pub camels: u32,
    pub poultry: u32,
}

/// Observable traits scored by the proxy means test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traits {
    pub roof: RoofMaterial,
    pub wall: WallMaterial,
    pub floor: FloorMaterial,
    pub assets: Assets,
    pub livestock: Livestock,
    pub cultivated_land_ares: u32,
}

impl Default for Traits {
    fn default() -> Self {
        Traits {
            roof: RoofMaterial::Unknown,
            wall: WallMaterial::Unknown,
            floor: FloorMaterial::Unknown,
            assets: Assets::default(),
            livestock: Livestock::default(),
            cultivated_land_ares: 0,
        }
    }
}

/// The proxy means test result.
#[derive(Debug, Clone, PartialEq)]
pub struct PmtAssessment {
    pub score: f64,
    pub threshold: f64,
    pub eligible: bool,
    pub weights_version: String,
}

/// Participation in a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub component: Component,
    pub status: EnrolmentStatus,
    pub enrolled_on: NaiveDate,
    pub exited_on: Option<NaiveDate>,
    pub exit_reason: Option<ExitReason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentStatus {
    Enrolled,
    Exited,
}

/// Summary status across components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HouseholdStatus {
    Registered,
    Enrolled,
    Exited,
}

impl HouseholdStatus {
    /// Enrolled while any component is; exited once every component has ended.
    pub fn from_enrolments(enrolments: &[Enrolment]) -> HouseholdStatus {
        if enrolments.iter().any(|e| e.status == EnrolmentStatus::Enrolled) {
            HouseholdStatus::Enrolled
        } else if enrolments.is_empty() {
            HouseholdStatus::Registered
        } else {
            HouseholdStatus::Exited
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            HouseholdStatus::Registered => "registered",
            HouseholdStatus::Enrolled => "enrolled",
            HouseholdStatus::Exited => "exited",
        }
    }

    pub fn from_code(code: &str) -> Option<HouseholdStatus> {
        match code {
            "registered" => Some(HouseholdStatus::Registered),
            "enrolled" => Some(HouseholdStatus::Enrolled),
            "exited" => Some(HouseholdStatus::Exited),
            _ => None,
        }
    }
}

/// A household as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    pub household_id: String,
    pub location: Location,
    /// The head first.
    pub members: Vec<Member>,
    pub traits: Traits,
    pub pmt: PmtAssessment,
    pub enrolments: Vec<Enrolment>,
    pub status: HouseholdStatus,
    pub version: i64,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Household {
    /// Members currently present.
    pub fn size(&self) -> usize {
        self.members.iter().filter(|m| m.is_present()).count()
    }

    pub fn head(&self) -> &Member {
        self.members
            .iter()
            .find(|m| m.is_head())
            .expect("a stored household has a head")
    }

    pub fn enrolment(&self, component: Component) -> Option<&Enrolment> {
        self.enrolments.iter().find(|e| e.component == component)
    }
}

/// One change of programme status, for the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub component: Component,
    pub status: EnrolmentStatus,
    pub effective_on: NaiveDate,
    pub exit_reason: Option<ExitReason>,
    pub note: String,
    pub recorded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Awa ").unwrap().as_str(), "Awa");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        assert!(PersonName::parse("A\u{0}wa").is_err());
        assert!(
            PersonName::parse(&"é".repeat(100)).is_ok(),
            "counted in characters, not bytes"
        );
    }

    #[test]
    fn id_cards_are_normalised() {
        assert_eq!(IdCardNumber::parse("ml-1234 5678a").unwrap().as_str(), "ML12345678A");
        assert!(IdCardNumber::parse("1234").is_err());
        assert!(IdCardNumber::parse("12345678é").is_err());
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(PhoneNumber::parse("+223 76 12 34 56").unwrap().as_str(), "+22376123456");
        assert!(PhoneNumber::parse("76123456").is_err());
        assert!(PhoneNumber::parse("+22376-123456").is_err());
    }
}
