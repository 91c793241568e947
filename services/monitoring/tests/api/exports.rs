//! DHIS2 and CSV exports.

use jigi_common::Region;
use jigi_proto::common::{Component, Period};
use jigi_proto::monitoring::{ExportCsvRequest, ExportDataValueSetRequest};

use crate::helpers::*;

#[tokio::test]
async fn dhis2_value_set_uses_the_mapping_and_names_what_it_cannot_map() {
    let mut app = spawn_app().await;
    app.publish(
        Region::Sikasso,
        "s0",
        &registered("s0", "sikasso.yanfolila.gouanan", "2018-10-02"),
        at("2018-10-02T08:00:00Z"),
    )
    .await;
    app.publish(
        Region::Sikasso,
        "s0",
        &enrolled("s0", "sikasso.yanfolila.gouanan", Component::Tm, "2018-10-03"),
        at("2018-10-03T08:00:00Z"),
    )
    .await;
    app.settled().await;
    let export = app
        .client
        .export_data_value_set(ExportDataValueSetRequest {
            period: Some(Period { code: "2018Q4".into() }),
            area: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let document: serde_json::Value = serde_json::from_str(&export.json).unwrap();
    let values = document["dataValues"].as_array().unwrap();
    assert_eq!(values.len() as i64, export.data_values);
    let find = |element: &str, org_unit: &str| {
        values
            .iter()
            .find(|v| v["dataElement"] == element && v["orgUnit"] == org_unit)
            .map(|v| v["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        find("JgRsuHhReg1", "MLiCountry1").as_deref(),
        Some("1"),
        "households registered, whole country"
    );
    assert_eq!(
        find("JgEnrTmHh01", "MLiSikasso1").as_deref(),
        Some("1"),
        "enrolled in TM, Sikasso"
    );
    assert_eq!(
        find("JgEnrTmHh01", "MLiSkYanfo1").as_deref(),
        Some("1"),
        "enrolled in TM, cercle of Yanfolila"
    );
    assert!(values.iter().all(|v| v["period"] == "2018Q4"));
    assert_eq!(
        export.unmapped_areas,
        ["sikasso.yanfolila.gouanan"],
        "the commune has data but no DHIS2 code"
    );
}

#[tokio::test]
async fn csv_lists_every_indicator_of_every_area() {
    let mut app = spawn_app().await;
    app.publish(
        Region::Mopti,
        "m0",
        &registered("m0", "mopti.mopti.sio", "2018-10-02"),
        at("2018-10-02T08:00:00Z"),
    )
    .await;
    app.settled().await;
    let csv = app
        .client
        .export_csv(ExportCsvRequest {
            period: Some(Period { code: "2018".into() }),
            area: "mopti".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .csv;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "area,area_name,period,indicator,value");
    assert!(lines.contains(&"mopti,Mopti,2018,households_registered,1"), "{csv}");
    assert!(
        lines.contains(&"mopti.mopti.sio,Sio,2018,households_registered,1"),
        "{csv}"
    );
    assert!(
        lines.contains(&"mopti.bandiagara.sangha,Sangha,2018,households_registered,0"),
        "{csv}"
    );
}
