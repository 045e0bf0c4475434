//! `referrals replace --file F`: a whole referral (PUT), which must hold its id and eTag,
//! printed as the API returns it.

use std::path::Path;

use crate::connect::connect;
use crate::failure::Failure;
use crate::settings::Settings;
use crate::{input, output};

/// Runs `referrals replace --file F`.
pub async fn run(settings: &Settings, file: &Path) -> Result<(), Failure> {
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
    let connection = connect(settings, None).await?;
    output::print_pretty(&connection.client.replace(&referral).await?)
}
