//! `include/shm_exchange.h` is what the code declares: generated here with
//! cbindgen and compared byte for byte. `SHM_BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn the_header_in_the_repository_is_what_cbindgen_makes_of_the_code() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not read the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let header_path = crate_dir.join("include/shm_exchange.h");
    if std::env::var_os("SHM_BLESS").is_some() {
        std::fs::write(&header_path, &generated).unwrap();
    }
    let in_repository = std::fs::read(&header_path).unwrap_or_default();
    assert!(
        in_repository == generated,
        "{} is stale: run `SHM_BLESS=1 cargo test -p shm-ffi --test header` and commit it",
        header_path.display()
    );
}
