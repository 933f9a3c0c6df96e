//! `list_named`: our mappings in /dev/shm, nothing else.

use shm_core::{Mapping, MappingName};

#[test]
fn lists_mappings_of_this_format_only() {
    let pid = std::process::id();
    let ours = MappingName::new(&format!("t-list-{pid}")).unwrap();
    let mapping = Mapping::create_or_open(&ours, 1 << 20).unwrap();
    let other = format!("/dev/shm/t-list-other-{pid}");
    std::fs::write(&other, b"not a mapping of ours").unwrap();

    let names = shm_core::list_named().unwrap();
    assert!(names.contains(&ours), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|name| name.as_str() == format!("t-list-other-{pid}")),
        "{names:?}"
    );
    assert!(names.windows(2).all(|w| w[0].as_str() <= w[1].as_str()));

    std::fs::remove_file(other).unwrap();
    mapping.remove().unwrap();
    assert!(!shm_core::list_named().unwrap().contains(&ours));
}
