//! The answer of `GET /v2/{project_id}/instances` and the API error body parser.
#![no_main]

use dcs_reconcile::api::wire::{ListResponse, parse_error_body};
use dcs_reconcile::model::Instance;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = serde_json::from_slice::<ListResponse>(data) {
        for wire in page.instances {
            let instance = Instance::from(wire);
            let _ = instance.is_prepaid();
            let _ = instance.label();
        }
    }
    // The same bytes as an error body (the client reads non-2xx answers with it).
    if let Some(error) = parse_error_body(data) {
        let _ = format!("{error:?}");
    }
});
