//! Every event type Jigi publishes, in one place.
//!
//! An [`EventKind`] fixes an event's subject (below its region) and its
//! CloudEvents type. Its `ce-subject` names what it is about: the household
//! for household, member and payment events, the cycle for cycle events,
//! the round for round events, the warehouse for stock events, the
//! distribution for ration events; [`DomainEvent`] ties it to the protobuf message that is
//! its payload. Adding an event means adding it here, so the public contract
//! (and its documentation) can be checked against this list.

use jigi_common::Region;
use jigi_proto::events;

use crate::subject;

/// The identity of an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKind {
    /// Publishing service, e.g. `registry`.
    pub service: &'static str,
    /// Entity the event is about, e.g. `household`.
    pub entity: &'static str,
    /// What happened, in the past tense, e.g. `registered`.
    pub action: &'static str,
    /// Version of the payload; a breaking change is a new version.
    pub version: u32,
    /// Full protobuf name of the payload, e.g. `jigi.events.v1.HouseholdRegistered`.
    pub message: &'static str,
}

impl EventKind {
    /// `jigi.<region>.<service>.<entity>.<action>`.
    pub fn subject(&self, region: Region) -> String {
        subject::event_subject(region, self.service, self.entity, self.action)
    }

    /// CloudEvents `type`: `jigi.<service>.<entity>.<action>.v<version>`.
    pub fn ce_type(&self) -> String {
        format!(
            "jigi.{}.{}.{}.v{}",
            self.service, self.entity, self.action, self.version
        )
    }

    /// Whether `ce_type` is this kind's CloudEvents `type`
    /// ([`EventKind::ce_type`]), compared without building it: a consumer
    /// asks this of every event it receives, once per type it handles.
    pub fn is_type(&self, ce_type: &str) -> bool {
        let version = (|| {
            ce_type
                .strip_prefix("jigi.")?
                .strip_prefix(self.service)?
                .strip_prefix('.')?
                .strip_prefix(self.entity)?
                .strip_prefix('.')?
                .strip_prefix(self.action)?
                .strip_prefix(".v")
        })();
        // As `ce_type` writes it: decimal digits, no sign, no leading zero.
        version.is_some_and(|digits| {
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && digits.parse::<u32>() == Ok(self.version)
        })
    }

    /// `content-type` of the payload.
    pub fn content_type(&self) -> String {
        format!("application/protobuf; proto={}", self.message)
    }
}

/// A protobuf message that is the payload of one kind of event.
pub trait DomainEvent: prost::Message + Default + Sized {
    const KIND: EventKind;
}

macro_rules! catalog {
    ($( $message:ident => $service:literal, $entity:literal, $action:literal; )*) => {
        $(
            impl DomainEvent for events::$message {
                const KIND: EventKind = EventKind {
                    service: $service,
                    entity: $entity,
                    action: $action,
                    version: 1,
                    message: concat!("jigi.events.v1.", stringify!($message)),
                };
            }
        )*

        /// Every event kind, for documentation and contract checks.
        pub const ALL: &[EventKind] = &[$(<events::$message as DomainEvent>::KIND),*];
    };
}

catalog! {
    HouseholdRegistered => "registry", "household", "registered";
    HouseholdUpdated => "registry", "household", "updated";
    HouseholdEnrolled => "registry", "household", "enrolled";
    HouseholdExited => "registry", "household", "exited";
    MemberAdded => "registry", "member", "added";
    MemberUpdated => "registry", "member", "updated";
    PaymentCycleOpened => "payments", "cycle", "opened";
    PaymentCycleFrozen => "payments", "cycle", "frozen";
    PaymentCycleApproved => "payments", "cycle", "approved";
    PaymentCycleClosed => "payments", "cycle", "closed";
    PaymentCycleCancelled => "payments", "cycle", "cancelled";
    PaymentMade => "payments", "payment", "made";
    PaymentFailed => "payments", "payment", "failed";
    PaymentNotCollected => "payments", "payment", "not_collected";
    RoundOpened => "nutrition", "round", "opened";
    RoundClosed => "nutrition", "round", "closed";
    RationDistributed => "nutrition", "ration", "distributed";
    StockReceived => "nutrition", "stock", "received";
    StockTransferred => "nutrition", "stock", "transferred";
    StockLost => "nutrition", "stock", "lost";
    MaSessionHeld => "activities", "session", "held";
    AgrBusinessPlanApproved => "activities", "business_plan", "approved";
    AgrGrantTrancheReleased => "activities", "grant_tranche", "released";
    AgrFollowUpVisited => "activities", "follow_up", "visited";
    HimoWorkSitePlanned => "activities", "work_site", "planned";
    HimoWorkSiteValidated => "activities", "work_site", "validated";
    HimoWorkSiteStarted => "activities", "work_site", "started";
    HimoWorkSiteClosed => "activities", "work_site", "closed";
    HimoAttendanceRecorded => "activities", "attendance", "recorded";
    HimoWagesDue => "activities", "wages", "due";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn kinds_are_unique_and_well_formed() {
        let mut types = HashSet::new();
        for kind in ALL {
            assert!(types.insert(kind.ce_type()), "duplicate {}", kind.ce_type());
            for token in [kind.service, kind.entity, kind.action] {
                assert!(subject::is_valid_token(token), "{token}");
            }
        }
        let kind = <events::HouseholdRegistered as DomainEvent>::KIND;
        assert_eq!(
            kind.subject(Region::Sikasso),
            "jigi.sikasso.registry.household.registered"
        );
        assert_eq!(kind.ce_type(), "jigi.registry.household.registered.v1");
        assert_eq!(kind.message, "jigi.events.v1.HouseholdRegistered");
        let made = <events::PaymentMade as DomainEvent>::KIND;
        assert_eq!(made.subject(Region::Segou), "jigi.segou.payments.payment.made");
        assert_eq!(
            <events::PaymentNotCollected as DomainEvent>::KIND.ce_type(),
            "jigi.payments.payment.not_collected.v1"
        );
    }

    #[test]
    fn a_type_is_recognised_exactly_as_it_is_written() {
        for kind in ALL {
            let written = kind.ce_type();
            for other in ALL {
                assert_eq!(
                    other.is_type(&written),
                    other == kind,
                    "{written} as {}",
                    other.ce_type()
                );
            }
        }
        let registered = <events::HouseholdRegistered as DomainEvent>::KIND;
        for near in [
            "jigi.registry.household.registered.v01",
            "jigi.registry.household.registered.v+1",
            "jigi.registry.household.registered.v2",
            "jigi.registry.household.registered.v",
            "jigi.registry.household.registered.v1 ",
            "jigi.registry.household.registered",
            "jigi.registry.household.registeredv1",
            "jigi.registry.household.registered.v10",
            "xjigi.registry.household.registered.v1",
            "jigi.registry.member.registered.v1",
            "",
        ] {
            assert!(!registered.is_type(near), "{near:?}");
        }
    }
}
