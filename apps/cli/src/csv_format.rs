//! The household CSV format of field data imports (documented in the README).
//!
//! One line per person. Lines of the same household share `household_ref`
//! and follow each other; the household's own columns (location, housing,
//! assets, livestock, land) are read from its first line and may be left
//! empty on the others.

use std::collections::HashMap;
use std::path::Path;

use jigi_proto::common::{Location, Sex};
use jigi_proto::registry::{
    Assets, FloorMaterial, HouseholdDraft, HouseholdTraits, Livestock, MemberDraft, Relation, RoofMaterial,
    WallMaterial,
};

/// The columns, in order.
pub const COLUMNS: [&str; 31] = [
    "household_ref",
    "commune",
    "village",
    "roof",
    "wall",
    "floor",
    "radios",
    "televisions",
    "mobile_phones",
    "bicycles",
    "motorcycles",
    "carts",
    "ploughs",
    "solar_panels",
    "cattle",
    "sheep_goats",
    "donkeys",
    "horses",
    "camels",
    "poultry",
    "cultivated_land_ares",
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_date_estimated",
    "relation",
    "pregnant",
    "lactating",
    "id_card_number",
    "phone",
];

/// A household read from the file, with the line of its first person.
#[derive(Debug, Clone)]
pub struct CsvHousehold {
    pub line: u64,
    pub reference: String,
    pub draft: HouseholdDraft,
}

/// A line the file format itself refuses (before the registry sees it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub column: String,
    pub message: String,
}

/// Everything read from a file.
#[derive(Debug, Default)]
pub struct CsvFile {
    pub households: Vec<CsvHousehold>,
    pub errors: Vec<LineError>,
}

/// Reads a household CSV file.
pub fn read(path: &Path) -> anyhow::Result<CsvFile> {
    let reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|err| anyhow::anyhow!("cannot open {}: {err}", path.display()))?;
    parse(reader)
}

/// Reads household CSV text.
pub fn parse<R: std::io::Read>(mut reader: csv::Reader<R>) -> anyhow::Result<CsvFile> {
    let headers = reader.headers()?.clone();
    let index: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !index.contains_key(c)).collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the header line lacks the columns {}; see the README for the format",
            missing.join(", ")
        );
    }
    let mut file = CsvFile::default();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map(|p| p.line()).unwrap_or(0);
                file.errors.push(LineError {
                    line,
                    column: String::new(),
                    message: err.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let fields = Fields {
            record: &record,
            index: &index,
        };
        let get = |column: &str| fields.get(column);
        let reference = get("household_ref").to_owned();
        let mut errors = Vec::new();
        let continues = file.households.last().is_some_and(|h| h.reference == reference);
        if !continues {
            let draft = household_columns(&fields, &mut errors);
            file.households.push(CsvHousehold {
                line,
                reference: reference.clone(),
                draft,
            });
        }
        let member = member_columns(&fields, &mut errors);
        if errors.is_empty() {
            file.households
                .last_mut()
                .expect("pushed above")
                .draft
                .members
                .push(member);
        } else {
            for (column, message) in errors {
                file.errors.push(LineError { line, column, message });
            }
        }
    }
    // A household with a line the format refuses is not sent at all: half a
    // household would be registered wrong.
    let broken_refs: std::collections::HashSet<String> = file
        .errors
        .iter()
        .filter_map(|e| {
            file.households
                .iter()
                .rev()
                .find(|h| h.line <= e.line)
                .map(|h| h.reference.clone())
        })
        .collect();
    file.households.retain(|h| !broken_refs.contains(&h.reference));
    Ok(file)
}

/// The cells of one line, by column name.
struct Fields<'a> {
    record: &'a csv::StringRecord,
    index: &'a HashMap<&'a str, usize>,
}

impl<'a> Fields<'a> {
    fn get(&self, column: &str) -> &'a str {
        self.record.get(self.index[column]).unwrap_or("").trim()
    }
}

fn household_columns(fields: &Fields<'_>, errors: &mut Vec<(String, String)>) -> HouseholdDraft {
    let get = |column: &str| fields.get(column);
    let mut count = |column: &str| -> i32 {
        let text = get(column);
        if text.is_empty() {
            return 0;
        }
        text.parse().unwrap_or_else(|_| {
            errors.push((column.to_owned(), format!("{text:?} is not a whole number")));
            0
        })
    };
    let assets = Assets {
        radios: count("radios"),
        televisions: count("televisions"),
        mobile_phones: count("mobile_phones"),
        bicycles: count("bicycles"),
        motorcycles: count("motorcycles"),
        carts: count("carts"),
        ploughs: count("ploughs"),
        solar_panels: count("solar_panels"),
    };
    let livestock = Livestock {
        cattle: count("cattle"),
        sheep_goats: count("sheep_goats"),
        donkeys: count("donkeys"),
        horses: count("horses"),
        camels: count("camels"),
        poultry: count("poultry"),
    };
    let land = count("cultivated_land_ares");
    let mut word = |column: &str, values: &[(&str, i32)]| -> i32 {
        let text = get(column).to_ascii_lowercase();
        if text.is_empty() {
            return 0;
        }
        values
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| {
                let allowed: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
                errors.push((
                    column.to_owned(),
                    format!("{text:?} is not one of {}", allowed.join(", ")),
                ));
                0
            })
    };
    let roof = word(
        "roof",
        &[
            ("thatch", RoofMaterial::Thatch as i32),
            ("earth", RoofMaterial::Earth as i32),
            ("metal_sheet", RoofMaterial::MetalSheet as i32),
            ("concrete", RoofMaterial::Concrete as i32),
        ],
    );
    let wall = word(
        "wall",
        &[
            ("straw", WallMaterial::Straw as i32),
            ("mud_brick", WallMaterial::MudBrick as i32),
            ("stone", WallMaterial::Stone as i32),
            ("cement", WallMaterial::Cement as i32),
        ],
    );
    let floor = word(
        "floor",
        &[
            ("earth", FloorMaterial::Earth as i32),
            ("cement", FloorMaterial::Cement as i32),
            ("tiles", FloorMaterial::Tiles as i32),
        ],
    );
    HouseholdDraft {
        location: Some(Location {
            commune: get("commune").to_owned(),
            village: get("village").to_owned(),
            ..Default::default()
        }),
        members: Vec::new(),
        traits: Some(HouseholdTraits {
            roof,
            wall,
            floor,
            assets: Some(assets),
            livestock: Some(livestock),
            cultivated_land_ares: land,
        }),
    }
}

fn member_columns(fields: &Fields<'_>, errors: &mut Vec<(String, String)>) -> MemberDraft {
    let get = |column: &str| fields.get(column);
    let mut flag = |column: &str| -> bool {
        match get(column).to_ascii_lowercase().as_str() {
            "" | "no" | "n" | "0" | "false" | "non" => false,
            "yes" | "y" | "1" | "true" | "oui" => true,
            other => {
                errors.push((column.to_owned(), format!("{other:?} is not yes or no")));
                false
            }
        }
    };
    let birth_date_estimated = flag("birth_date_estimated");
    let pregnant = flag("pregnant");
    let lactating = flag("lactating");
    let sex = match get("sex").to_ascii_uppercase().as_str() {
        "F" => Sex::Female as i32,
        "M" | "H" => Sex::Male as i32,
        "" => 0,
        other => {
            errors.push(("sex".into(), format!("{other:?} is not F or M")));
            0
        }
    };
    let relations = [
        ("head", Relation::Head),
        ("spouse", Relation::Spouse),
        ("child", Relation::Child),
        ("grandchild", Relation::Grandchild),
        ("parent", Relation::Parent),
        ("sibling", Relation::Sibling),
        ("other_relative", Relation::OtherRelative),
        ("not_related", Relation::NotRelated),
    ];
    let relation_text = get("relation").to_ascii_lowercase();
    let relation = match relations.iter().find(|(name, _)| *name == relation_text) {
        Some((_, relation)) => *relation as i32,
        None if relation_text.is_empty() => 0,
        None => {
            errors.push((
                "relation".into(),
                format!("{relation_text:?} is not one of head, spouse, child, grandchild, parent, sibling, other_relative, not_related"),
            ));
            0
        }
    };
    MemberDraft {
        given_name: get("given_name").to_owned(),
        family_name: get("family_name").to_owned(),
        sex,
        birth_date: get("birth_date").to_owned(),
        birth_date_estimated,
        relation,
        pregnant,
        lactating,
        id_card_number: get("id_card_number").to_owned(),
        phone: get("phone").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> CsvFile {
        parse(csv::Reader::from_reader(text.as_bytes())).unwrap()
    }

    #[test]
    fn the_sample_file_reads_into_households_with_their_first_line() {
        let file = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/households-sample.csv")).unwrap();
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        assert_eq!(file.households.len(), 10);
        assert_eq!(file.households[0].line, 2);
        assert_eq!(file.households[0].draft.members.len(), 4);
        assert_eq!(file.households[1].line, 6);
        assert_eq!(
            file.households[1].draft.traits.unwrap().wall,
            WallMaterial::Straw as i32
        );
    }

    #[test]
    fn a_household_with_an_unreadable_line_is_reported_and_not_sent() {
        let header = COLUMNS.join(",");
        let text = format!(
            "{header}\n\
             A,c,,thatch,straw,earth,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,Awa,Traoré,F,1980-01-01,no,head,no,no,,\n\
             A,,,,,,,,,,,,,,,,,,,,,Moussa,Traoré,X,2020-01-01,no,child,no,no,,\n\
             B,c,,palace,straw,earth,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,Ali,Cissé,M,1980-01-01,no,head,no,no,,\n\
             C,c,,thatch,straw,earth,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,Ina,Cissé,F,1981-01-01,no,head,no,no,,\n"
        );
        let file = parse_text(&text);
        let errors: Vec<(u64, &str)> = file.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(errors, [(3, "sex"), (4, "roof")]);
        let sent: Vec<&str> = file.households.iter().map(|h| h.reference.as_str()).collect();
        assert_eq!(sent, ["C"]);
    }

    #[test]
    fn a_missing_column_is_refused_naming_it() {
        let err = parse(csv::Reader::from_reader("household_ref,commune\n".as_bytes())).unwrap_err();
        assert!(err.to_string().contains("village"), "{err}");
    }
}
