//! `referrals create --file F`: a referral from a JSON file, printed as created.

use std::path::Path;

use crate::connect::connect;
use crate::failure::Failure;
use crate::settings::Settings;
use crate::{input, output};

/// Runs `referrals create --file F`.
pub async fn run(settings: &Settings, file: &Path) -> Result<(), Failure> {
    let referral = input::referral(file)?;
    let connection = connect(settings, None).await?;
    output::print_pretty(&connection.client.create(&referral).await?)
}
