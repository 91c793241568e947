//! A rotation of the linkage key: every region recomputes every household's
//! keys with the old and the new key, then with the new one alone, while
//! serving; the index matches only keys of the same key ID, so the
//! rotation raises no false alarm and a true duplicate stays one pair.

use jigi_common::Region;
use jigi_testkit::eventually;

use crate::helpers::{Country, WAIT};

/// Households indexed with each key ID.
async fn indexed_per_key(country: &Country) -> Vec<(String, i64)> {
    country
        .linkage
        .database
        .read(|conn| {
            conn.query(
                "SELECT key_id, COUNT(DISTINCT household_id) FROM match_keys GROUP BY key_id ORDER BY key_id",
                jigi_storage::params![],
            )?
            .iter()
            .map(|row| Ok((row.get(0)?, row.get(1)?)))
            .collect::<Result<Vec<_>, jigi_storage::StorageError>>()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_rotation_rekeys_every_household_without_false_alarms() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    for region in [Region::Sikasso, Region::Mopti] {
        for _ in 0..8 {
            let draft = country.region(region).draft();
            country.region(region).register(draft).await;
        }
    }
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Hawa", "Dicko", "1988-04-05", "ML5550001112");
    country.region(Region::Mopti).register(draft).await;
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("Hawa", "Dicko", "1988-04-05", "ML5550001112");
    country.region(Region::Sikasso).register(draft).await;
    let before = country.wait_duplicates(1).await;
    let households = 18;

    // Step 1: both keys active. Every household is re-keyed with both.
    let access = country.access.clone();
    for region in [Region::Sikasso, Region::Mopti] {
        country.region(region).restart_with_keys(&access, &["k1", "k2"]).await;
    }
    eventually(WAIT, "every household keyed with k1 and k2", || async {
        let counts = indexed_per_key(&country).await;
        (counts == [("k1".to_owned(), households), ("k2".to_owned(), households)]).then_some(())
    })
    .await;
    // Step 2: the old key retired. Every household is re-keyed with k2 alone.
    for region in [Region::Sikasso, Region::Mopti] {
        country.region(region).restart_with_keys(&access, &["k2"]).await;
    }
    eventually(WAIT, "every household keyed with k2 only", || async {
        let counts = indexed_per_key(&country).await;
        (counts == [("k2".to_owned(), households)]).then_some(())
    })
    .await;
    country.wait_published().await;

    let after = country.duplicates().await;
    assert_eq!(after, before, "the rotation raised no alarm and kept the one true pair");

    // A new registration under k2 alone is still matched.
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("Boubacar", "Maïga", "1970-01-09", "ML8880001113");
    country.region(Region::Sikasso).register(draft).await;
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("BOUBACAR", "MAIGA", "1970-01-09", "");
    country.region(Region::Mopti).register(draft).await;
    country.wait_duplicates(2).await;
}
