//! `referrals update ID --patch F [--if-match ETAG]`: a JSON Patch, and the referral the API
//! returns printed as indented JSON.

use std::path::Path;

use referrals::PatchOptions;

use crate::connect::connect;
use crate::failure::Failure;
use crate::settings::Settings;
use crate::{input, output};

/// Runs `referrals update`.
pub async fn run(
    settings: &Settings,
    id: &str,
    patch: &Path,
    if_match: Option<&str>,
) -> Result<(), Failure> {
    let id = input::referral_id(id)?;
    let operations = input::patch(patch)?;
    let mut options = PatchOptions::new().return_representation();
    if let Some(etag) = if_match {
        options = options.if_match(etag);
    }
    let connection = connect(settings, None).await?;
    match connection.client.patch(id, &operations, options).await? {
        Some(referral) => output::print_pretty(&referral),
        None => {
            say!("updated {id} (the server returned no representation)");
            Ok(())
        }
    }
}
