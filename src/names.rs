//! The default display names of anonymous users: "Adjective Animal".

use rand::seq::IndexedRandom;

const ADJECTIVES: &[&str] = &[
    "Quiet", "Brave", "Curious", "Gentle", "Swift", "Clever", "Happy", "Lucky", "Sunny", "Calm",
    "Bold", "Bright", "Cosy", "Eager", "Kind", "Merry", "Nimble", "Witty", "Jolly", "Mellow",
];

const ANIMALS: &[&str] = &[
    "Otter", "Fox", "Heron", "Badger", "Lynx", "Panda", "Robin", "Falcon", "Koala", "Marten",
    "Owl", "Seal", "Wombat", "Hare", "Ibex", "Puffin", "Tapir", "Gecko", "Bison", "Crane",
];

/// A random friendly name such as "Quiet Otter".
pub(crate) fn friendly_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("Quiet");
    let animal = ANIMALS.choose(&mut rng).copied().unwrap_or("Otter");
    [adjective, " ", animal].concat()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_two_words() {
        for _ in 0..100 {
            assert_eq!(super::friendly_name().split(' ').count(), 2);
        }
    }
}
