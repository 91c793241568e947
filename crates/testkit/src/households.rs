//! Households as the services' tests register them in a region's registry:
//! believable members, the registration a field agent would send, and an
//! enrolment, each call expected to succeed.

use jigi_proto::common::{Component, Location, Sex};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{self as pr, HouseholdDraft, MemberDraft, Relation};

use crate::AuthedChannel;

/// A commune of Ségou, and one of its villages, where tests' households live.
pub const SANANDO: &str = "segou.baroueli.sanando";
pub const SANANDO_VILLAGE: &str = "segou.baroueli.sanando.dioforongo";

/// A woman born in 1990, with a phone; head when first in a household's list.
pub fn woman() -> MemberDraft {
    MemberDraft {
        given_name: "Awa".into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date: "1990-03-12".into(),
        relation: Relation::Spouse as i32,
        phone: "+22376123456".into(),
        ..Default::default()
    }
}

/// A man born in 1985.
pub fn man() -> MemberDraft {
    MemberDraft {
        given_name: "Moussa".into(),
        family_name: "Traoré".into(),
        sex: Sex::Male as i32,
        birth_date: "1985-07-01".into(),
        relation: Relation::Spouse as i32,
        ..Default::default()
    }
}

/// A girl called `name`, born on `birth_date` (see [`born`]).
pub fn child(name: &str, birth_date: String) -> MemberDraft {
    MemberDraft {
        given_name: name.into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date,
        relation: Relation::Child as i32,
        ..Default::default()
    }
}

/// The date `months` months and `days` days before today, `YYYY-MM-DD`
/// (ages in tests stay right whatever day they run).
pub fn born(months: u32, days: u64) -> String {
    let today = chrono::Utc::now().date_naive();
    (today.checked_sub_months(chrono::Months::new(months)).unwrap() - chrono::Days::new(days)).to_string()
}

/// Registers a household of `commune` (in a village of it for Sanando) with
/// these members: the first is its head, named after `seed` so that no two
/// households of a test look like duplicates.
pub async fn register(
    registry: &mut RegistryServiceClient<AuthedChannel>,
    commune: &str,
    mut members: Vec<MemberDraft>,
    seed: u32,
) -> pr::Household {
    members[0].relation = Relation::Head as i32;
    members[0].given_name = format!("Awa{seed}");
    let village = if commune == SANANDO { SANANDO_VILLAGE } else { "" };
    registry
        .register_household(pr::RegisterHouseholdRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            household: Some(HouseholdDraft {
                location: Some(Location {
                    commune: commune.into(),
                    village: village.into(),
                    ..Default::default()
                }),
                members,
                traits: Some(pr::HouseholdTraits {
                    roof: pr::RoofMaterial::Thatch as i32,
                    wall: pr::WallMaterial::MudBrick as i32,
                    floor: pr::FloorMaterial::Earth as i32,
                    ..Default::default()
                }),
            }),
        })
        .await
        .expect("registration succeeds")
        .into_inner()
        .household
        .unwrap()
}

/// Enrols a household in `component` on `enrolled_on`, as the commune's
/// committee decided; returns the household as the registry holds it then.
pub async fn enrol(
    registry: &mut RegistryServiceClient<AuthedChannel>,
    household_id: &str,
    component: Component,
    enrolled_on: &str,
) -> pr::Household {
    registry
        .enrol_household(pr::EnrolHouseholdRequest {
            household_id: household_id.into(),
            component: component as i32,
            enrolled_on: enrolled_on.into(),
            committee_override: "CCL Sanando 2018-04".into(),
        })
        .await
        .unwrap_or_else(|status| panic!("enrolment in {component:?} succeeds: {status:?}"))
        .into_inner()
        .household
        .unwrap()
}

/// The member ID of the `index`-th member of a household.
pub fn member(household: &pr::Household, index: usize) -> String {
    household.members[index].member_id.clone()
}
