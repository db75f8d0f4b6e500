//! The other sentences the commands print: `validate`'s verdict, the saved-plan note, the
//! confirmation question, `whoami`, the export header and comments, the emulator's banner.

use std::io::{self, Write};

use super::{plural, shown};
use crate::config::{Auth, ENV_HW_AUTH_TOKEN};
use crate::identity::Identity;
use crate::model::Instance;

/// `dcs.yaml is valid: 3 instances declared.`
pub(crate) fn valid(w: &mut dyn Write, file: &str, declared: usize) -> io::Result<()> {
    writeln!(
        w,
        "{} is valid: {} declared.",
        shown(file),
        plural(declared, "instance", "instances")
    )
}

/// `text` as a paragraph of its own after what was printed.
pub(crate) fn paragraph(w: &mut dyn Write, text: &str) -> io::Result<()> {
    writeln!(w, "\n{text}")
}

/// What `plan --out FILE` says it did.
pub(crate) fn saved_note(file: &str) -> String {
    format!("Saved this plan to {file}. Apply exactly it with: dcs-reconcile apply --plan {file}")
}

/// The confirmation question of `apply`, in Terraform's words.
pub(crate) fn confirm_question(deletions: usize, project_id: &str) -> String {
    format!(
        "\nDelete {} from project {}?\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ",
        if deletions == 1 {
            "this instance".to_owned()
        } else {
            format!("these {deletions} instances")
        },
        shown(project_id)
    )
}

/// The confirmation question of `apply` over several targets.
pub(crate) fn fleet_question(deletions: usize, tag_calls: usize, targets: usize) -> String {
    let what = match (deletions, tag_calls) {
        (0, t) => format!(
            "Make {} (marks for deletion; nothing is deleted now)",
            plural(t, "tag call", "tag calls")
        ),
        (d, 0) => format!("Delete {}", plural(d, "instance", "instances")),
        (d, t) => format!(
            "Delete {} and make {}",
            plural(d, "instance", "instances"),
            plural(t, "tag call", "tag calls")
        ),
    };
    format!(
        "\n{what} in {}, as planned above?\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ",
        plural(targets, "target", "targets")
    )
}

/// The question before an apply that only marks and unmarks (tag calls, no deletion).
pub(crate) fn tag_question(marks: usize, unmarks: usize, project_id: &str) -> String {
    format!(
        "\nMark {marks} and unmark {unmarks} instances for deletion in project {} (tags only; \
         nothing is deleted now)?\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ",
        shown(project_id)
    )
}

/// `Exported 3 instances to dcs.yaml.`
pub(crate) fn exported(w: &mut dyn Write, count: usize, file: &str) -> io::Result<()> {
    writeln!(
        w,
        "Exported {} to {}.",
        plural(count, "instance", "instances"),
        shown(file)
    )
}

/// The header comment of an exported manifest.
pub(crate) fn export_header(
    at: &str,
    project_id: &str,
    endpoint: &str,
    out_name: &str,
) -> Vec<String> {
    vec![
        format!(
            "Exported by dcs-reconcile {} at {at} from project {project_id} at {endpoint}.",
            env!("CARGO_PKG_VERSION"),
        ),
        format!(
            "Every instance below exists; `dcs-reconcile plan -f {out_name}` shows no deletions."
        ),
        "Remove an entry to have its instance deleted by the next apply.".to_owned(),
    ]
}

/// The comment beside an exported instance: status, flavour, billing, creation time.
pub(crate) fn export_comment(i: &Instance) -> String {
    format!(
        "{}, {}, {}, created {}",
        i.status,
        i.spec_code.as_deref().unwrap_or("spec unknown"),
        i.billing().unwrap_or("billing unknown"),
        i.created_at.as_deref().unwrap_or("unknown")
    )
}

/// The emulator's start-up line.
pub(crate) fn emulator_banner(
    w: &mut dyn Write,
    url: &str,
    instances: usize,
    project_id: Option<&str>,
    signed: bool,
) -> io::Result<()> {
    writeln!(
        w,
        "DCS emulator listening on {url} ({instances} instances, project {}, signatures {}). \
         Stop it with Ctrl-C.",
        project_id.unwrap_or("any"),
        if signed { "checked" } else { "not checked" }
    )
}

/// The `whoami` report: sources, masked AK, token use, project, region, endpoint.
pub(crate) fn whoami(out: &mut dyn Write, id: &Identity) -> io::Result<()> {
    let c = &id.chain;
    writeln!(out, "Credentials:     {}", c.source)?;
    match &c.auth {
        Auth::Metadata(_) => {
            writeln!(out, "Access key:      temporary, from the metadata service")?;
            writeln!(
                out,
                "Security token:  yes, from the metadata service (not shown)"
            )?;
            writeln!(out, "Auth token:      no")?;
        }
        Auth::AkSk(creds) => {
            writeln!(
                out,
                "Access key:      {} (SDK-HMAC-SHA256 signatures)",
                creds.masked_ak()
            )?;
            match &c.security_token_origin {
                Some(o) => writeln!(
                    out,
                    "Security token:  yes, from {o} (temporary credentials; not shown)"
                )?,
                None => writeln!(out, "Security token:  no")?,
            }
            writeln!(out, "Auth token:      no")?;
        }
        Auth::Token(_) => {
            writeln!(out, "Access key:      none")?;
            writeln!(out, "Security token:  no")?;
            writeln!(
                out,
                "Auth token:      yes, from {ENV_HW_AUTH_TOKEN} (sent as X-Auth-Token; not shown)"
            )?;
        }
    }
    writeln!(
        out,
        "Project id:      {} (from {})",
        id.project_id.value, id.project_id.origin
    )?;
    match &id.region {
        Some(r) => writeln!(out, "Region:          {} (from {})", r.value, r.origin)?,
        None => writeln!(out, "Region:          unknown")?,
    }
    writeln!(
        out,
        "Endpoint:        {} (from {})",
        id.endpoint.value, id.endpoint.origin
    )?;
    if let Some(iam) = &id.iam_endpoint {
        writeln!(out, "IAM endpoint:    {} (from {})", iam.value, iam.origin)?;
    }
    Ok(())
}
