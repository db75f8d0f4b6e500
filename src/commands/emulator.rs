//! `emulator`: the built-in DCS emulator on a loopback address until interrupted.

use std::sync::Arc;

use super::{Io, write_err};
use crate::cli::EmulatorArgs;
use crate::emulator::{self, EmulatorConfig, Fault};
use crate::error::{EXIT_OK, Error, Result};
use crate::render::notes;

pub(crate) async fn run(
    args: &EmulatorArgs,
    project_id: Option<&str>,
    io: &mut Io<'_>,
) -> Result<u8> {
    emulator::check_loopback(&args.listen)?;
    let faults = args
        .fault
        .iter()
        .map(|f| {
            f.parse::<Fault>()
                .map_err(|e| Error::Usage(format!("--fault {f}: {e}")))
        })
        .collect::<Result<Vec<Fault>>>()?;
    let instances = match (&args.state, args.generate) {
        (Some(path), _) if path.exists() => {
            emulator::load_state_file(path).map_err(Error::Emulator)?
        }
        (Some(_), _) => Vec::new(),
        (None, Some(n)) => emulator::generate_instances(n),
        (None, None) => emulator::sample_instances(),
    };
    let count = instances.len();
    let config = EmulatorConfig {
        project_id: project_id.map(str::to_owned),
        credentials: args.ak.clone().zip(args.sk.clone()),
        state_file: args.state.clone(),
        instances,
        fail_delete: args.fail_delete.clone(),
        fail_delete_requests: args.fail_delete_requests,
        latency: std::time::Duration::from_millis(args.latency_ms),
        delete_linger: args.delete_linger,
        faults,
        auth_token: args.auth_token.clone(),
        reject_recycle: args.reject_recycle,
        ignore_recycle: args.ignore_recycle,
        ..EmulatorConfig::default()
    };
    let signed = config.credentials.is_some() || config.auth_token.is_some();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Emulator(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Emulator(e.to_string()))?;
    notes::emulator_banner(io.out, &format!("http://{addr}"), count, project_id, signed)
        .and_then(|()| io.out.flush())
        .map_err(write_err)?;
    let shared = emulator::Shared::new(config);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    emulator::serve(listener, Arc::clone(&shared), stop)
        .await
        .map_err(|e| Error::Emulator(e.to_string()))?;
    Ok(EXIT_OK)
}
