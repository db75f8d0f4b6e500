//! The answer of `DELETE /v2/{project_id}/instances` (batch delete).
#![no_main]

use dcs_reconcile::api::wire::{BatchDeleteResponse, parse_error_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = serde_json::from_slice::<BatchDeleteResponse>(data) {
        for result in &answer.results {
            let _ = result.result.as_deref() == Some("success");
            let _ = result.instance.as_deref();
        }
    }
    let _ = parse_error_body(data);
});
