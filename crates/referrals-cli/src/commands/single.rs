//! The commands on one referral: get, create, update (JSON Patch) and replace (PUT). Each prints
//! the referral the API returns as indented JSON.

use std::io::{self, Write};
use std::path::Path;

use referrals::{PatchOptions, Referral};

use crate::cli::GlobalArgs;
use crate::connect::connect;
use crate::failure::Failure;
use crate::{input, output};

/// `referrals get ID`.
pub async fn get(global: &GlobalArgs, id: &str) -> Result<(), Failure> {
    let id = non_empty_id(id)?;
    let connection = connect(global, None).await?;
    print(&connection.client.get(id).await?)
}

/// `referrals create --file F`.
pub async fn create(global: &GlobalArgs, file: &Path) -> Result<(), Failure> {
    let referral = input::referral(file)?;
    let connection = connect(global, None).await?;
    print(&connection.client.create(&referral).await?)
}

/// `referrals update ID --patch F [--if-match ETAG]`.
pub async fn update(
    global: &GlobalArgs,
    id: &str,
    patch: &Path,
    if_match: Option<&str>,
) -> Result<(), Failure> {
    let id = non_empty_id(id)?;
    let operations = input::patch(patch)?;
    let mut options = PatchOptions::new().return_representation();
    if let Some(etag) = if_match {
        options = options.if_match(etag);
    }
    let connection = connect(global, None).await?;
    match connection.client.patch(id, &operations, options).await? {
        Some(referral) => print(&referral),
        None => {
            eprintln!("updated {id} (the server returned no representation)");
            Ok(())
        }
    }
}

/// `referrals replace --file F`.
pub async fn replace(global: &GlobalArgs, file: &Path) -> Result<(), Failure> {
    let referral = input::referral(file)?;
    if referral.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        return Err(Failure::Usage(format!(
            "--file {}: replace needs the referral's `id`",
            file.display()
        )));
    }
    if referral.e_tag.is_none() {
        return Err(Failure::Usage(format!(
            "--file {}: replace needs the referral's `eTag` (get the referral first)",
            file.display()
        )));
    }
    let connection = connect(global, None).await?;
    print(&connection.client.replace(&referral).await?)
}

fn non_empty_id(id: &str) -> Result<&str, Failure> {
    if id.trim().is_empty() {
        return Err(Failure::Usage("the referral id is empty".into()));
    }
    Ok(id)
}

fn print(referral: &Referral) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    output::write_pretty(&mut out, referral)?;
    out.flush()?;
    Ok(())
}
