//! Domain values shared by every Jigi service.
//!
//! Each type here can only hold a valid value: parsing is the one way in, so
//! code that receives a [`Region`], a [`Period`] or a [`Fcfa`] never checks it
//! again.
//!
//! - [`region`]: the eight regions and their slugs (used in event subjects and stream names);
//! - [`geography`]: the reference of regions, cercles, communes and villages, loaded from a data file;
//! - [`period`]: quarters and years such as `2018Q4`;
//! - [`id`]: IDs the services issue (households, people, payment cycles), checked once;
//! - [`money`]: whole francs CFA;
//! - [`component`]: the programme's components (TM, MA, PNP, AGR, HIMO);
//! - [`person`]: what every component reads about a person (sex);
//! - [`date`]: calendar dates as the APIs write them (`YYYY-MM-DD`);
//! - [`rules`]: the region's places and today, for checking a regional request;
//! - [`validation`]: field-by-field errors for requests.

pub mod component;
pub mod date;
pub mod geography;
pub mod id;
pub mod money;
pub mod period;
pub mod person;
pub mod region;
pub mod rules;
pub mod validation;

pub use component::Component;
pub use geography::{Area, AreaLevel, Geography, GeographyError, Location};
pub use id::{HouseholdId, IdError, MemberId};
pub use money::Fcfa;
pub use period::{Period, PeriodError};
pub use person::Sex;
pub use region::{Region, RegionList, UnknownRegion};
pub use rules::Rules;
pub use validation::{FieldError, Problems};
