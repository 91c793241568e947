//! Finding a household registered twice.
//!
//! Two rules, checked at registration and at every change of a head or an
//! ID card:
//! - an ID-card number belongs to one person in the whole registry;
//! - the same head (given and family name, birth date, village — or commune
//!   when the village is not known) heads one household only.
//!
//! Names are compared after folding case, accents and the Bambara letters
//! (so `Traoré` and `TRAORE` are the same head) and ignoring punctuation.

use chrono::NaiveDate;

use super::model::{Location, PersonName};

/// The key under which a head of household must be unique.
pub fn head_key(given: &PersonName, family: &PersonName, birth_date: NaiveDate, location: &Location) -> String {
    let place = if location.village.is_empty() {
        &location.commune
    } else {
        &location.village
    };
    format!(
        "{}|{}|{}|{}",
        fold_name(given.as_str()),
        fold_name(family.as_str()),
        birth_date.format("%Y-%m-%d"),
        place
    )
}

/// Lower case ASCII letters and digits, single spaces between words.
pub fn fold_name(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let ascii: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ɛ' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ɔ' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ɲ' => "ny",
            'ŋ' => "ng",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                if pending_space && !folded.is_empty() {
                    folded.push(' ');
                }
                pending_space = false;
                folded.push(c);
                continue;
            }
            // Spaces, hyphens, apostrophes and other marks separate words.
            _ => {
                pending_space = true;
                continue;
            }
        };
        if pending_space && !folded.is_empty() {
            folded.push(' ');
        }
        pending_space = false;
        folded.push_str(ascii);
    }
    folded
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;

    use super::*;

    fn name(text: &str) -> PersonName {
        PersonName::parse(text).unwrap()
    }

    fn location(village: &str) -> Location {
        Location {
            region: Region::Segou,
            cercle: "segou.baroueli".into(),
            commune: "segou.baroueli.sanando".into(),
            village: village.into(),
        }
    }

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(fold_name("Traoré"), "traore");
        assert_eq!(fold_name("  TRAORE "), "traore");
        assert_eq!(fold_name("Mamadou-Lamine  Dembélé"), "mamadou lamine dembele");
        assert_eq!(fold_name("Ɲɛlɛ"), "nyele");
        assert_eq!(fold_name("N'Golo"), "n golo");
    }

    #[test]
    fn same_head_same_key_and_place_matters() {
        let born = NaiveDate::from_ymd_opt(1975, 3, 2).unwrap();
        let dioforongo = location("segou.baroueli.sanando.dioforongo");
        assert_eq!(
            head_key(&name("Awa"), &name("Traoré"), born, &dioforongo),
            head_key(&name("AWA"), &name("Traore"), born, &dioforongo)
        );
        assert_ne!(
            head_key(&name("Awa"), &name("Traoré"), born, &dioforongo),
            head_key(
                &name("Awa"),
                &name("Traoré"),
                born,
                &location("segou.baroueli.sanando.sanando")
            )
        );
        assert!(head_key(&name("Awa"), &name("Traoré"), born, &location("")).ends_with("|segou.baroueli.sanando"));
    }
}
