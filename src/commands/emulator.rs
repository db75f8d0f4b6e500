//! `emulator`: the built-in DCS emulator on a loopback address until interrupted.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Io, write_err};
use crate::cli::EmulatorArgs;
use crate::emulator::{self, Activity, EmulatorConfig, Fault};
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
    let mut activity: BTreeMap<String, Activity> = BTreeMap::new();
    let instances = match (&args.state, args.generate) {
        (Some(path), _) if path.exists() => {
            let file = emulator::load_state(path).map_err(Error::Emulator)?;
            activity = file.activity;
            file.instances
        }
        (Some(_), _) => Vec::new(),
        (None, Some(n)) => emulator::generate_instances(n),
        (None, None) => emulator::sample_instances(),
    };
    let count = instances.len();
    if let Some(every) = args.active_every {
        for i in (0..args.generate.unwrap_or(0)).step_by(every.max(1)) {
            activity.insert(format!("gen-{i:06}"), busy(1.0, 1.0));
        }
    }
    for spec in &args.activity {
        let (key, a) =
            parse_activity(spec).map_err(|e| Error::Usage(format!("--activity {spec}: {e}")))?;
        activity.insert(key, a);
    }
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
        activity,
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

/// Active over the whole window.
fn busy(ops: f64, connections: f64) -> Activity {
    Activity {
        ops,
        connections,
        ..Activity::default()
    }
}

/// `NAME_OR_ID=OPS,CONNECTIONS` or `NAME_OR_ID=no-data`.
fn parse_activity(spec: &str) -> std::result::Result<(String, Activity), String> {
    const HELP: &str = "expected NAME_OR_ID=OPS,CONNECTIONS (e.g. orders-cache=12,40) or \
                        NAME_OR_ID=no-data";
    let (key, value) = spec.split_once('=').ok_or(HELP)?;
    let key = key.trim();
    if key.is_empty() {
        return Err(HELP.to_owned());
    }
    if value.trim() == "no-data" {
        let a = Activity {
            no_data: true,
            ..Activity::default()
        };
        return Ok((key.to_owned(), a));
    }
    let (ops, conns) = value.split_once(',').ok_or(HELP)?;
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("`{}` is not a number of zero or more; {HELP}", t.trim()))
    };
    Ok((key.to_owned(), busy(number(ops)?, number(conns)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_specs_parse_and_bad_ones_say_the_form() {
        assert_eq!(
            parse_activity("orders-cache=12,40"),
            Ok(("orders-cache".to_owned(), busy(12.0, 40.0)))
        );
        let (key, a) = parse_activity("i-1=no-data").unwrap_or_default();
        assert_eq!(key, "i-1");
        assert!(a.no_data);
        for bad in ["x", "=1,2", "x=1", "x=a,2", "x=-1,2", "x=1,inf"] {
            let e = parse_activity(bad).err().unwrap_or_default();
            assert!(e.contains("NAME_OR_ID=OPS,CONNECTIONS"), "{bad}: {e}");
        }
    }
}
