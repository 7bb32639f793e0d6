//! The default display names of anonymous users: "Adjective Animal", derived from the id.
//!
//! This derivation is a stored format, version 1, frozen. Tokens and Redis records leave a
//! guest's name out when it is the one its id gives, and readers derive it again, so any change
//! to the word lists, their order or the hash would rename every existing guest. The tests
//! below pin the lists and a table of names; a new list would need a new version that is
//! written into records, with this one kept for the records that do not say.

const ADJECTIVES: &[&str] = &[
    "Quiet", "Brave", "Curious", "Gentle", "Swift", "Clever", "Happy", "Lucky", "Sunny", "Calm",
    "Bold", "Bright", "Cosy", "Eager", "Kind", "Merry", "Nimble", "Witty", "Jolly", "Mellow",
];

const ANIMALS: &[&str] = &[
    "Otter", "Fox", "Heron", "Badger", "Lynx", "Panda", "Robin", "Falcon", "Koala", "Marten",
    "Owl", "Seal", "Wombat", "Hare", "Ibex", "Puffin", "Tapir", "Gecko", "Bison", "Crane",
];

/// The friendly name of user `id`, such as "Quiet Otter": the same id always gets the same
/// name (random ids get random names), so a token can leave a guest's name out and its reader
/// can tell it again.
pub(crate) fn name_for_id(id: &str) -> String {
    let (adjective, animal) = words_for_id(id);
    [adjective, " ", animal].concat()
}

/// Whether `name` is [`name_for_id`]`(id)`, without building it.
pub(crate) fn is_name_for_id(id: &str, name: &str) -> bool {
    let (adjective, animal) = words_for_id(id);
    name.strip_prefix(adjective)
        .and_then(|rest| rest.strip_prefix(' '))
        .is_some_and(|rest| rest == animal)
}

/// The two words of `id`'s name, picked by the id's 64-bit FNV-1a hash. Fixed for good: a
/// token that left a name out is read back with it.
fn words_for_id(id: &str) -> (&'static str, &'static str) {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let pick = |words: &[&'static str], bits: u64| words[(bits % words.len() as u64) as usize];
    (pick(ADJECTIVES, hash), pick(ANIMALS, hash >> 32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// `name_for_id("guest-0")` to `name_for_id("guest-7")`, as version 1 gives them.
    const PINNED_V1: [&str; 8] = [
        "Jolly Gecko",
        "Calm Hare",
        "Nimble Panda",
        "Lucky Fox",
        "Curious Fox",
        "Eager Gecko",
        "Quiet Marten",
        "Bright Panda",
    ];

    #[test]
    fn the_same_id_gets_the_same_name_for_good() {
        // Tokens that leave the name out rely on these staying what they are.
        assert_eq!(name_for_id(""), "Witty Lynx");
        assert_eq!(
            name_for_id("tGR--gsIOeufGR598qEmWg"),
            name_for_id("tGR--gsIOeufGR598qEmWg")
        );
        for (id, name) in [
            ("u1", "Lucky Crane"),
            ("tGR--gsIOeufGR598qEmWg", "Curious Hare"),
        ] {
            assert_eq!(name_for_id(id), name, "{id}");
        }
    }

    #[test]
    fn version_1_word_lists_are_frozen() {
        // Changing a word renames every guest whose name was left out of its token or record.
        assert_eq!(
            ADJECTIVES.join(" "),
            "Quiet Brave Curious Gentle Swift Clever Happy Lucky Sunny Calm \
             Bold Bright Cosy Eager Kind Merry Nimble Witty Jolly Mellow"
        );
        assert_eq!(
            ANIMALS.join(" "),
            "Otter Fox Heron Badger Lynx Panda Robin Falcon Koala Marten \
             Owl Seal Wombat Hare Ibex Puffin Tapir Gecko Bison Crane"
        );
        let pinned: Vec<String> = (0..8).map(|n| name_for_id(&format!("guest-{n}"))).collect();
        assert_eq!(pinned, PINNED_V1);
    }

    #[test]
    fn random_ids_spread_over_the_names() {
        let names: HashSet<String> = (0..2000)
            .map(|_| name_for_id(&crate::util::ids::new_id()))
            .collect();
        assert!(names.len() > 300, "{} names of 400", names.len());
        assert!(names.iter().all(|name| name.split(' ').count() == 2));
    }

    proptest! {
        #[test]
        fn is_name_for_id_agrees_with_name_for_id(id in ".{0,40}", other in ".{0,20}") {
            prop_assert!(is_name_for_id(&id, &name_for_id(&id)));
            prop_assert_eq!(is_name_for_id(&id, &other), other == name_for_id(&id));
            let name = name_for_id(&id);
            let longer = format!("{name} ");
            prop_assert!(!is_name_for_id(&id, &longer));
            prop_assert!(!is_name_for_id(&id, &name[1..]));
        }
    }
}
