//! Changing a registered household: its location or traits, its members,
//! its enrolment in the programme's components.

use jigi_bus::outbox;
use jigi_common::{Component, HouseholdId, MemberId, Problems};
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, Remembered, RequestKey};
use jigi_storage::{Conn, StorageError};

use super::Registry;
use crate::domain::enrolment::{self, Refusal};
use crate::domain::model::{
    Enrolment, ExitReason, Household, HouseholdStatus, IdCardNumber, Location, Member, MemberStatus, StatusChange,
    Traits,
};
use crate::domain::validate::{self, Enrolling, Exiting, MAX_MEMBERS, MemberEdit, Moving};
use crate::{events, storage};

impl Registry {
    /// Changes a household's location and/or traits.
    pub async fn update(
        &self,
        household_id: &HouseholdId,
        expected_version: i64,
        location: Option<Location>,
        traits: Option<Traits>,
    ) -> Result<Household, CommandError> {
        if location.is_none() && traits.is_none() {
            return Err(CommandError::invalid(
                "location",
                "nothing to change: give a location, traits, or both",
            ));
        }

        let (this, household_id) = (self.clone(), household_id.to_owned());
        self.db
            .write(move |conn| this.update_in(conn, &household_id, expected_version, location, traits))
            .await
    }

    fn update_in(
        &self,
        conn: &mut Conn,
        household_id: &str,
        expected_version: i64,
        location: Option<Location>,
        traits: Option<Traits>,
    ) -> Result<Household, CommandError> {
        let mut household = self.load_for_change(conn, household_id)?;
        if expected_version != 0 && expected_version != household.version {
            return Err(CommandError::Refused {
                kind: "VERSION_MISMATCH",
                subject: household_id.to_owned(),
                message: format!(
                    "household {household_id} is at version {}, not {expected_version}: it changed since it was read",
                    household.version
                ),
            });
        }
        if let Some(location) = location {
            household.location = location;
        }
        if let Some(traits) = traits {
            household.traits = traits;
        }
        self.save_changed(conn, &mut household)?;
        outbox::add(conn, &[events::updated(&household)])?;
        self.add_keyed(conn, &[&household])?;
        Ok(household)
    }

    /// Adds a person to a household.
    pub async fn add_member(
        &self,
        household_id: &HouseholdId,
        member: Member,
    ) -> Result<(Household, String), CommandError> {
        let (this, household_id) = (self.clone(), household_id.to_owned());
        self.db
            .write(move |conn| this.add_member_in(conn, &household_id, member))
            .await
    }

    fn add_member_in(
        &self,
        conn: &mut Conn,
        household_id: &str,
        member: Member,
    ) -> Result<(Household, String), CommandError> {
        let mut household = self.load_for_change(conn, household_id)?;
        if household.members.len() >= MAX_MEMBERS {
            return Err(CommandError::invalid(
                "member",
                format!("the household already lists {MAX_MEMBERS} members"),
            ));
        }
        if let Some(card) = &member.id_card {
            check_id_card_free(conn, card, None)?;
        }
        storage::insert_member(conn, household_id, household.members.len(), &member)?;
        household.members.push(member.clone());
        self.save_changed(conn, &mut household)?;
        outbox::add(conn, &[events::member_added(&household, &member)])?;
        self.add_keyed(conn, &[&household])?;
        Ok((household, member.member_id))
    }

    /// Changes one member's data.
    pub async fn update_member(
        &self,
        household_id: &HouseholdId,
        member_id: &MemberId,
        edit: MemberEdit,
    ) -> Result<Household, CommandError> {
        let (this, household_id, member_id) = (self.clone(), household_id.to_owned(), member_id.to_owned());
        self.db
            .write(move |conn| this.update_member_in(conn, &household_id, &member_id, edit))
            .await
    }

    fn update_member_in(
        &self,
        conn: &mut Conn,
        household_id: &str,
        member_id: &str,
        edit: MemberEdit,
    ) -> Result<Household, CommandError> {
        let rules = self.rules();
        let MemberEdit {
            given_name,
            family_name,
            birth_date,
            birth_date_estimated,
            pregnant,
            lactating,
            id_card,
            phone,
            status,
        } = edit;
        let mut household = self.load_for_change(conn, household_id)?;
        let index = household
            .members
            .iter()
            .position(|m| m.member_id == member_id)
            .ok_or_else(|| CommandError::NotFound {
                kind: "member",
                id: format!("{member_id} of household {household_id}"),
            })?;
        let mut member = household.members[index].clone();
        if let Some(name) = given_name {
            member.given_name = name;
        }
        if let Some(name) = family_name {
            member.family_name = name;
        }
        if let Some(date) = birth_date {
            member.birth_date = date;
        }
        if let Some(estimated) = birth_date_estimated {
            member.birth_date_estimated = estimated;
        }
        if let Some(pregnant) = pregnant {
            member.pregnant = pregnant;
        }
        if let Some(lactating) = lactating {
            member.lactating = lactating;
        }
        if let Some(Some(card)) = &id_card {
            check_id_card_free(conn, card, Some(member_id))?;
        }
        if let Some(card) = id_card {
            member.id_card = card;
        }
        if let Some(phone) = phone {
            member.phone = phone;
        }
        if let Some(status) = status {
            if member.is_head() && status != MemberStatus::Present {
                return Err(CommandError::Refused {
                    kind: "HEAD_MUST_BE_PRESENT",
                    subject: member_id.to_owned(),
                    message:
                        "the head of household cannot leave or be recorded as deceased; register the new head first"
                            .into(),
                });
            }
            member.status = status;
        }
        let mut problems = Problems::new();
        validate::check_maternity(
            rules.today,
            member.sex,
            member.birth_date,
            member.pregnant,
            member.lactating,
            "",
            &mut problems,
        );
        let problems: Vec<_> = problems
            .into_errors()
            .into_iter()
            .map(|mut e| {
                e.field = e.field.trim_start_matches('.').to_owned();
                e
            })
            .collect();
        if !problems.is_empty() {
            return Err(CommandError::Invalid(problems));
        }
        storage::update_member(conn, &household.household_id, &member)?;
        household.members[index] = member.clone();
        self.save_changed(conn, &mut household)?;
        outbox::add(conn, &[events::member_updated(&household, &member)])?;
        self.add_keyed(conn, &[&household])?;
        Ok(household)
    }

    /// Enrols a household into a component.
    pub async fn enrol(&self, household_id: &HouseholdId, enrolling: Enrolling) -> Result<Household, CommandError> {
        let Enrolling {
            component,
            on,
            committee_override,
        } = enrolling;
        let (this, household_id) = (self.clone(), household_id.to_owned());
        self.db
            .write(move |conn| {
                let mut household = this.load_for_change(conn, &household_id)?;
                let enrolment = enrolment::enrol(&household, component, on, !committee_override.is_empty())
                    .map_err(|refusal| refused(refusal, component, &household_id))?;
                this.apply_enrolment(conn, &mut household, &enrolment, &committee_override)?;
                let event = events::enrolled(
                    &household,
                    &enrolment,
                    !committee_override.is_empty() && !household.pmt.eligible,
                );
                outbox::add(conn, &[event])?;
                Ok(household)
            })
            .await
    }

    /// Enrols many households in a component in one transaction: those
    /// listed, or those a selection finds. Each household is enrolled or
    /// refused on its own (a refusal leaves nothing of it); one already
    /// enrolled is left as it was. A repeat of the same request (same
    /// request ID and content) returns the first answer.
    pub async fn enrol_many(
        &self,
        key: RequestKey,
        enrolling: Enrolling,
        targets: Targets,
    ) -> Result<Vec<BatchEnrolment>, CommandError> {
        let Enrolling {
            component,
            on,
            committee_override,
        } = enrolling;
        let this = self.clone();
        let outcomes = self
            .db
            .write(move |conn| {
                idempotency::once(conn, &key, |conn| {
                    let ids = match targets {
                        Targets::Listed(ids) => ids,
                        Targets::Selected(filter) => {
                            let ids = storage::list_ids(conn, &filter, None, MAX_SELECTION + 1)?;
                            if ids.len() > MAX_SELECTION {
                                return Err(CommandError::invalid(
                                    "selection",
                                    format!("finds more than {MAX_SELECTION} households: narrow it to an area"),
                                ));
                            }
                            ids
                        }
                    };
                    let outcomes = ids
                        .into_iter()
                        .map(|id| this.enrol_one(conn, id, component, on, &committee_override))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(BatchOutcomes(outcomes))
                })
            })
            .await?;
        Ok(outcomes.0)
    }

    /// One household of a batch enrolment, in its own savepoint.
    fn enrol_one(
        &self,
        conn: &mut Conn,
        household_id: String,
        component: Component,
        on: chrono::NaiveDate,
        committee_override: &str,
    ) -> Result<BatchEnrolment, CommandError> {
        let attempt = conn.isolated(|conn| {
            let mut household = self.load_for_change(conn, &household_id)?;
            let enrolment = enrolment::enrol(&household, component, on, !committee_override.is_empty())
                .map_err(|refusal| refused(refusal, component, &household_id))?;
            self.apply_enrolment(conn, &mut household, &enrolment, committee_override)?;
            let event = events::enrolled(
                &household,
                &enrolment,
                !committee_override.is_empty() && !household.pmt.eligible,
            );
            outbox::add(conn, &[event])?;
            Ok(())
        });
        Ok(match attempt {
            Ok(()) => BatchEnrolment::Enrolled(household_id),
            Err(CommandError::Refused {
                kind: "ALREADY_ENROLLED",
                ..
            }) => BatchEnrolment::AlreadyEnrolled(household_id),
            Err(CommandError::Refused { kind, message, .. }) => BatchEnrolment::Refused {
                household_id,
                kind: kind.to_owned(),
                message,
            },
            Err(CommandError::NotFound { .. }) => BatchEnrolment::Refused {
                household_id,
                kind: "NOT_FOUND".to_owned(),
                message: "no household has this ID in this region's registry".to_owned(),
            },
            // The database failing is not a household's refusal: the whole
            // batch fails, and the client retries it with the same ID.
            Err(other) => return Err(other),
        })
    }

    /// Ends a household's participation in a component.
    pub async fn exit(&self, household_id: &HouseholdId, exiting: Exiting) -> Result<Household, CommandError> {
        let Exiting {
            component,
            on,
            reason,
            note,
        } = exiting;
        let (this, household_id) = (self.clone(), household_id.to_owned());
        self.db
            .write(move |conn| {
                let mut household = this.load_for_change(conn, &household_id)?;
                let enrolment =
                    enrolment::exit(&household, component, on, reason).map_err(|refusal| match refusal {
                        Refusal::ExitBeforeEnrolment { .. } => {
                            CommandError::invalid("exited_on", refusal.explain(component))
                        }
                        other => refused(other, component, &household_id),
                    })?;
                this.apply_enrolment(conn, &mut household, &enrolment, &note)?;
                outbox::add(conn, &[events::exited(&household, &enrolment)])?;
                this.add_keyed(conn, &[&household])?;
                Ok(household)
            })
            .await
    }

    /// A household that moved to another region: ends every current
    /// enrolment (reason MOVED, noted "moved to <region>"), in one
    /// transaction with its events, its last match keys (inactive, so the
    /// index no longer counts it) and the move reported to the index, which
    /// has the destination continue those enrolments (`app::transfers`).
    /// Repeating it changes nothing.
    pub async fn transfer(&self, household_id: &HouseholdId, moving: Moving) -> Result<Household, CommandError> {
        let Moving {
            destination: destination_region,
            destination_household_id,
            on,
        } = moving;
        let destination = destination_region.slug();
        let note = if destination_household_id.is_empty() {
            format!("moved to {destination}")
        } else {
            format!("moved to {destination} (household {destination_household_id})")
        };
        let (this, household_id) = (self.clone(), household_id.to_owned());
        self.db
            .write(move |conn| {
                let mut household = this.load_for_change(conn, &household_id)?;
                let current: Vec<Component> = household
                    .enrolments
                    .iter()
                    .filter(|e| e.status == crate::domain::model::EnrolmentStatus::Enrolled)
                    .map(|e| e.component)
                    .collect();
                let mut events = Vec::new();
                if !current.is_empty() {
                    events.push(this.transferred_event(
                        conn,
                        &household,
                        destination_region,
                        &destination_household_id,
                        on,
                    )?);
                }
                for component in current {
                    let enrolment = enrolment::exit(&household, component, on, ExitReason::Moved).map_err(
                        |refusal| match refusal {
                            Refusal::ExitBeforeEnrolment { .. } => {
                                CommandError::invalid("transferred_on", refusal.explain(component))
                            }
                            other => refused(other, component, &household_id),
                        },
                    )?;
                    this.apply_enrolment(conn, &mut household, &enrolment, &note)?;
                    events.push(events::exited(&household, &enrolment));
                }
                if !events.is_empty() {
                    outbox::add(conn, &events)?;
                    this.add_keyed(conn, &[&household])?;
                }
                Ok(household)
            })
            .await
    }

    /// Stores an enrolment or exit, records it in the history (with the
    /// committee decision or exit note), and saves the household's new status.
    pub(super) fn apply_enrolment(
        &self,
        conn: &mut Conn,
        household: &mut Household,
        enrolment: &Enrolment,
        note: &str,
    ) -> Result<(), CommandError> {
        storage::save_enrolment(conn, &household.household_id, enrolment)?;
        let change = StatusChange {
            component: enrolment.component,
            status: enrolment.status,
            effective_on: enrolment.exited_on.unwrap_or(enrolment.enrolled_on),
            exit_reason: enrolment.exit_reason,
            note: note.to_owned(),
            recorded_at: jigi_storage::timestamp::now_utc(),
        };
        storage::add_history(conn, &household.household_id, &change)?;
        household.enrolments.retain(|e| e.component != enrolment.component);
        household.enrolments.push(enrolment.clone());
        household.enrolments.sort_by_key(|e| e.component);
        household.status = HouseholdStatus::from_enrolments(&household.enrolments);
        self.save_changed(conn, household)
    }
}

/// Most households a request may name.
pub const MAX_BATCH: usize = 10_000;
/// Most households a selection may find.
pub const MAX_SELECTION: usize = 50_000;

/// Which households a batch enrolment concerns.
#[derive(Debug, Clone)]
pub enum Targets {
    Listed(Vec<String>),
    Selected(storage::ListFilter),
}

/// What happened to one household of a batch enrolment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchEnrolment {
    Enrolled(String),
    AlreadyEnrolled(String),
    Refused {
        household_id: String,
        kind: String,
        message: String,
    },
}

/// A batch's outcomes as the idempotency store keeps them.
struct BatchOutcomes(Vec<BatchEnrolment>);

impl Remembered for BatchOutcomes {
    fn to_stored(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("outcomes serialise")
    }
    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError> {
        serde_json::from_slice(bytes)
            .map(BatchOutcomes)
            .map_err(|err| StorageError::Decode(format!("stored batch enrolment: {err}")))
    }
}

/// Refuses an ID card another person holds.
fn check_id_card_free(conn: &mut Conn, card: &IdCardNumber, member_id: Option<&str>) -> Result<(), CommandError> {
    match storage::id_card_holder(conn, card)? {
        Some((holder, household_id)) if Some(holder.as_str()) != member_id => Err(CommandError::exists(
            "household",
            household_id.clone(),
            format!(
                "ID-card number {} is already registered in household {household_id}",
                card.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

fn refused(refusal: Refusal, component: Component, household_id: &str) -> CommandError {
    CommandError::refused(refusal.kind(), household_id, refusal.explain(component))
}
