//! The manifest parser: any bytes give a manifest or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("dcs.yaml");
    match dcs_reconcile::manifest::parse(data, path) {
        Ok(manifest) => {
            // What parse keeps must be what it was given.
            assert_eq!(manifest.text.as_bytes(), data);
            assert_eq!(manifest.path, path);
        }
        Err(error) => {
            // Errors are shown to the user: formatting them must not panic either.
            let _ = error.to_string();
        }
    }
});
