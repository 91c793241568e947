//! `jigi activities …`: accompanying measures (MA), income-generating
//! activities (AGR) and labour-intensive works (HIMO) of a running
//! activities service.

use clap::Subcommand;
use jigi_proto::activities::{
    ActivityStatus, ActivityType, AgeGroup, AssignWorkerRequest, BusinessPlan, CloseWagePeriodRequest,
    CloseWorkSiteRequest, GetBusinessPlanRequest, GetWorkSiteRequest, ListMissedHouseholdsRequest, PlanWorkSiteRequest,
    RecordAttendanceRequest, RecordBusinessPlanRequest, RecordFollowUpVisitRequest, RecordSessionRequest,
    ReleaseGrantTrancheRequest, SessionTheme, SiteStatus, SiteType, StartWorkSiteRequest, StopReason,
    ValidateWorkSiteRequest, WorkSite,
};
use jigi_proto::common::{Money, Period, Sex};

use super::today;
use crate::address::{ActivitiesAddress, service_error};
use crate::table;

#[derive(Subcommand, Debug)]
pub enum ActivitiesCommand {
    /// MA: record a session held in a village and who attended (registry member IDs).
    ///
    /// Example: jigi activities session --commune sikasso.yanfolila.gouanan --village sikasso.yanfolila.gouanan.yorobougoula --theme infant-feeding --facilitator ong-gaas-mali --member M1 --member M2
    Session {
        #[arg(long)]
        commune: String,
        #[arg(long)]
        village: String,
        /// infant-feeding, early-childhood, hygiene, income-generating, civil-registration or health.
        #[arg(long, value_parser = parse_enum::<SessionTheme>("SESSION_THEME_"))]
        theme: i32,
        /// The day it was held, YYYY-MM-DD (default: today).
        #[arg(long)]
        held_on: Option<String>,
        /// The implementing organisation's code.
        #[arg(long)]
        facilitator: String,
        /// A person present (repeat).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Request ID, so a retry records nothing twice (default: from the commune, village, theme and day).
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// MA: the households of a commune that missed every session between two days.
    ///
    /// Example: jigi activities missed --commune sikasso.yanfolila.gouanan --from 2018-10-01 --to 2018-12-31
    Missed {
        #[arg(long)]
        commune: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// AGR: record a household's business plan.
    ///
    /// Example: jigi activities plan HOUSEHOLD_ID --activity small-livestock --grant 150000
    Plan {
        household: String,
        /// small-livestock, petty-trade, market-gardening, processing or craft.
        #[arg(long, value_parser = parse_enum::<ActivityType>("ACTIVITY_TYPE_"))]
        activity: i32,
        /// The planned grant, FCFA.
        #[arg(long)]
        grant: i64,
        /// The day the committee approved it (default: today).
        #[arg(long)]
        approved_on: Option<String>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// AGR: release a tranche of a household's grant (paid by an agr-grant cycle).
    ///
    /// Example: jigi activities tranche HOUSEHOLD_ID --amount 75000
    Tranche {
        household: String,
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        released_on: Option<String>,
        /// Request ID (default: from the household, amount and day).
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// AGR: record a follow-up visit at 3, 6 or 12 months (--stopped REASON when the activity stopped).
    ///
    /// Example: jigi activities visit HOUSEHOLD_ID --month 3 --stopped livestock-loss
    Visit {
        household: String,
        #[arg(long)]
        month: i32,
        #[arg(long)]
        visited_on: Option<String>,
        /// livestock-loss, household-needs, no-market, shock or other; running when absent.
        #[arg(long, value_parser = parse_enum::<StopReason>("STOP_REASON_"))]
        stopped: Option<i32>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// AGR: a household's plan, tranches and visits.
    ///
    /// Example: jigi activities show-plan HOUSEHOLD_ID
    ShowPlan {
        household: String,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// HIMO: plan a work site.
    ///
    /// Example: jigi activities site-plan gouanan-piste-1 --type rural-road --commune sikasso.yanfolila.gouanan --planned-start 2018-07-01 --person-days 6000 --daily-wage 1500
    SitePlan {
        site: String,
        /// rural-road, soil-conservation, reforestation, water-works or market-garden.
        #[arg(long = "type", value_parser = parse_enum::<SiteType>("SITE_TYPE_"))]
        site_type: i32,
        #[arg(long)]
        commune: String,
        #[arg(long)]
        planned_start: String,
        #[arg(long)]
        person_days: i64,
        #[arg(long)]
        daily_wage: i64,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// HIMO: a site's technical validation, set-up or closing (validate, start or close).
    ///
    /// Example: jigi activities site gouanan-piste-1 start --on 2018-08-16
    Site {
        site: String,
        /// validate, start, close or show.
        step: String,
        #[arg(long)]
        on: Option<String>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// HIMO: assign a household's worker (a member of working age) to a site.
    ///
    /// Example: jigi activities worker gouanan-piste-1 --household HOUSEHOLD_ID --member MEMBER_ID
    Worker {
        site: String,
        #[arg(long)]
        household: String,
        #[arg(long)]
        member: String,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// HIMO: record the workers present on a site on a day.
    ///
    /// Example: jigi activities attendance gouanan-piste-1 --on 2018-08-20 --member M1 --member M2
    Attendance {
        site: String,
        #[arg(long)]
        on: Option<String>,
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
    /// HIMO: close a quarter's wages on a site (days × daily wage per household, paid by a himo-wages cycle).
    ///
    /// Example: jigi activities wages gouanan-piste-1 --period 2018Q3
    Wages {
        site: String,
        #[arg(long)]
        period: String,
        #[command(flatten)]
        activities: ActivitiesAddress,
    },
}

/// A value of a protobuf enum from its name without `prefix`, in lower case
/// with `-` for `_` (`infant-feeding` for `SESSION_THEME_INFANT_FEEDING`).
fn parse_enum<E: EnumName>(prefix: &'static str) -> impl Fn(&str) -> Result<i32, String> + Clone {
    move |text: &str| {
        let name = format!("{prefix}{}", text.to_ascii_uppercase().replace('-', "_"));
        E::value_of(&name).ok_or_else(|| format!("{text:?} is not one of the accepted values"))
    }
}

/// A value of a protobuf enum as a word: its name without `prefix`, in
/// lower case (`small_livestock` for `ACTIVITY_TYPE_SMALL_LIVESTOCK`); empty
/// for a value this build does not know.
fn word<E: EnumName>(value: i32, prefix: &str) -> String {
    E::name_of(value)
        .map(|name| name.trim_start_matches(prefix).to_ascii_lowercase())
        .unwrap_or_default()
}

/// The `from_str_name` and `as_str_name` of the API's enums.
trait EnumName {
    fn value_of(name: &str) -> Option<i32>;
    fn name_of(value: i32) -> Option<&'static str>;
}

macro_rules! enum_name {
    ($($e:ty),*) => {$(
        impl EnumName for $e {
            fn value_of(name: &str) -> Option<i32> {
                <$e>::from_str_name(name).map(|v| v as i32).filter(|v| *v != 0)
            }

            fn name_of(value: i32) -> Option<&'static str> {
                <$e>::try_from(value).ok().map(|v| v.as_str_name())
            }
        }
    )*};
}
enum_name!(
    SessionTheme,
    ActivityType,
    StopReason,
    SiteType,
    SiteStatus,
    AgeGroup,
    Sex
);

fn money(fcfa: i64) -> Option<Money> {
    Some(Money { fcfa })
}

fn fcfa(money: Option<Money>) -> String {
    jigi_common::Fcfa::new(money.unwrap_or_default().fcfa).to_string()
}

fn print_plan(plan: &BusinessPlan) {
    println!(
        "Household {}: {} plan, grant {}, {} released",
        plan.household_id,
        word::<ActivityType>(plan.activity_type, "ACTIVITY_TYPE_"),
        fcfa(plan.planned_grant),
        fcfa(plan.released)
    );
    for t in &plan.tranches {
        println!(
            "  tranche {} of {} released on {} (tranche {})",
            t.number,
            fcfa(t.amount),
            t.released_on,
            t.tranche_id
        );
    }
    for v in &plan.visits {
        let running = v.status == ActivityStatus::Running as i32;
        println!(
            "  month-{} visit on {}: {}",
            v.month,
            v.visited_on,
            if running { "running" } else { "stopped" }
        );
    }
}

fn print_site(site: &WorkSite) {
    println!(
        "Site {} ({}): {}, planned {}, set up {} ({} days late), {} of {} person-days, {} workers, {} a day",
        site.site_id,
        site.location.clone().unwrap_or_default().commune,
        word::<SiteStatus>(site.status, "SITE_STATUS_"),
        site.planned_start,
        if site.started_on.is_empty() {
            "not yet"
        } else {
            &site.started_on
        },
        site.start_delay_days,
        site.worked_person_days,
        site.planned_person_days,
        site.workers,
        fcfa(site.daily_wage)
    );
}

/// What a command prints last: the business plan or the work site as the
/// service answered it (the same lines whatever the command).
enum Shown {
    Plan(Option<BusinessPlan>),
    Site(Option<WorkSite>),
    Nothing,
}

pub async fn run(command: ActivitiesCommand) -> anyhow::Result<()> {
    let shown = match command {
        ActivitiesCommand::Session {
            commune,
            village,
            theme,
            held_on,
            facilitator,
            members,
            request_id,
            activities,
        } => {
            let held_on = held_on.unwrap_or_else(today);
            let request_id = request_id.unwrap_or_else(|| format!("ma-{village}-{theme}-{held_on}"));
            let session = activities
                .connect()
                .await?
                .record_session(RecordSessionRequest {
                    request_id,
                    commune,
                    village,
                    theme,
                    held_on,
                    facilitator,
                    member_ids: members,
                })
                .await
                .map_err(|status| service_error("record session", status))?
                .into_inner()
                .session
                .unwrap_or_default();
            println!(
                "Session {} recorded: {} people of {} households",
                session.session_id, session.people, session.households
            );
            table::print(
                &["sex", "age group", ">people"],
                &session
                    .attendance
                    .iter()
                    .map(|c| {
                        vec![
                            word::<Sex>(c.sex, "SEX_"),
                            word::<AgeGroup>(c.age_group, "AGE_GROUP_"),
                            c.people.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
            Shown::Nothing
        }
        ActivitiesCommand::Missed {
            commune,
            from,
            to,
            activities,
        } => {
            let missed = activities
                .connect()
                .await?
                .list_missed_households(ListMissedHouseholdsRequest { commune, from, to })
                .await
                .map_err(|status| service_error("list missed households", status))?
                .into_inner();
            println!(
                "{} sessions held; {} households to follow up:",
                missed.sessions,
                missed.household_ids.len()
            );
            for id in missed.household_ids {
                println!("  {id}");
            }
            Shown::Nothing
        }
        ActivitiesCommand::Plan {
            household,
            activity,
            grant,
            approved_on,
            activities,
        } => Shown::Plan(
            activities
                .connect()
                .await?
                .record_business_plan(RecordBusinessPlanRequest {
                    household_id: household,
                    activity_type: activity,
                    planned_grant: money(grant),
                    approved_on: approved_on.unwrap_or_else(today),
                })
                .await
                .map_err(|status| service_error("record business plan", status))?
                .into_inner()
                .plan,
        ),
        ActivitiesCommand::Tranche {
            household,
            amount,
            released_on,
            request_id,
            activities,
        } => {
            let released_on = released_on.unwrap_or_else(today);
            let request_id = request_id.unwrap_or_else(|| format!("agr-{household}-{amount}-{released_on}"));
            let answer = activities
                .connect()
                .await?
                .release_grant_tranche(ReleaseGrantTrancheRequest {
                    request_id,
                    household_id: household,
                    amount: money(amount),
                    released_on,
                })
                .await
                .map_err(|status| service_error("release grant tranche", status))?
                .into_inner();
            Shown::Plan(answer.plan)
        }
        ActivitiesCommand::Visit {
            household,
            month,
            visited_on,
            stopped,
            activities,
        } => Shown::Plan(
            activities
                .connect()
                .await?
                .record_follow_up_visit(RecordFollowUpVisitRequest {
                    household_id: household,
                    month,
                    visited_on: visited_on.unwrap_or_else(today),
                    status: if stopped.is_some() {
                        ActivityStatus::Stopped
                    } else {
                        ActivityStatus::Running
                    } as i32,
                    stop_reason: stopped.unwrap_or(0),
                })
                .await
                .map_err(|status| service_error("record follow-up visit", status))?
                .into_inner()
                .plan,
        ),
        ActivitiesCommand::ShowPlan { household, activities } => Shown::Plan(
            activities
                .connect()
                .await?
                .get_business_plan(GetBusinessPlanRequest {
                    household_id: household,
                })
                .await
                .map_err(|status| service_error("get business plan", status))?
                .into_inner()
                .plan,
        ),
        ActivitiesCommand::SitePlan {
            site,
            site_type,
            commune,
            planned_start,
            person_days,
            daily_wage,
            activities,
        } => Shown::Site(
            activities
                .connect()
                .await?
                .plan_work_site(PlanWorkSiteRequest {
                    site_id: site,
                    site_type,
                    commune,
                    planned_start,
                    planned_person_days: person_days,
                    daily_wage: money(daily_wage),
                })
                .await
                .map_err(|status| service_error("plan work site", status))?
                .into_inner()
                .site,
        ),
        ActivitiesCommand::Site {
            site,
            step,
            on,
            activities,
        } => {
            let mut client = activities.connect().await?;
            let on = on.unwrap_or_else(today);
            let site = match step.as_str() {
                "validate" => client
                    .validate_work_site(ValidateWorkSiteRequest {
                        site_id: site,
                        validated_on: on,
                    })
                    .await
                    .map(|r| r.into_inner().site),
                "start" => client
                    .start_work_site(StartWorkSiteRequest {
                        site_id: site,
                        started_on: on,
                    })
                    .await
                    .map(|r| r.into_inner().site),
                "close" => client
                    .close_work_site(CloseWorkSiteRequest {
                        site_id: site,
                        closed_on: on,
                    })
                    .await
                    .map(|r| r.into_inner().site),
                "show" => client
                    .get_work_site(GetWorkSiteRequest { site_id: site })
                    .await
                    .map(|r| r.into_inner().site),
                other => anyhow::bail!("{other:?} is not a site step: validate, start, close or show"),
            }
            .map_err(|status| service_error(&format!("{step} work site"), status))?;
            Shown::Site(site)
        }
        ActivitiesCommand::Worker {
            site,
            household,
            member,
            activities,
        } => Shown::Site(
            activities
                .connect()
                .await?
                .assign_worker(AssignWorkerRequest {
                    site_id: site,
                    household_id: household,
                    member_id: member,
                })
                .await
                .map_err(|status| service_error("assign worker", status))?
                .into_inner()
                .site,
        ),
        ActivitiesCommand::Attendance {
            site,
            on,
            members,
            request_id,
            activities,
        } => {
            let on = on.unwrap_or_else(today);
            let request_id = request_id.unwrap_or_else(|| format!("{site}-{on}"));
            let answer = activities
                .connect()
                .await?
                .record_attendance(RecordAttendanceRequest {
                    request_id,
                    site_id: site,
                    worked_on: on,
                    member_ids: members,
                })
                .await
                .map_err(|status| service_error("record attendance", status))?
                .into_inner();
            println!("{} workers recorded.", answer.workers);
            Shown::Site(answer.site)
        }
        ActivitiesCommand::Wages {
            site,
            period,
            activities,
        } => {
            let sheet = activities
                .connect()
                .await?
                .close_wage_period(CloseWagePeriodRequest {
                    site_id: site,
                    period: Some(Period { code: period }),
                })
                .await
                .map_err(|status| service_error("close wage period", status))?
                .into_inner();
            table::print(
                &["household", ">days", ">wages (FCFA)"],
                &sheet
                    .wages
                    .iter()
                    .map(|w| vec![w.household_id.clone(), w.days.to_string(), fcfa(w.amount)])
                    .collect::<Vec<_>>(),
            );
            println!(
                "Total {} (cap {} per household per quarter); pay it with: jigi cycles open --kind himo-wages --period {}",
                fcfa(sheet.total),
                fcfa(sheet.cap_per_household),
                sheet.period.unwrap_or_default().code
            );
            Shown::Nothing
        }
    };
    match shown {
        Shown::Plan(plan) => print_plan(&plan.unwrap_or_default()),
        Shown::Site(site) => print_site(&site.unwrap_or_default()),
        Shown::Nothing => {}
    }
    Ok(())
}
