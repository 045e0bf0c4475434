//! `referrals get ID`: one referral, printed as indented JSON.

use crate::connect::connect;
use crate::failure::Failure;
use crate::settings::Settings;
use crate::{input, output};

/// Runs `referrals get ID`.
pub async fn run(settings: &Settings, id: &str) -> Result<(), Failure> {
    let id = input::referral_id(id)?;
    let connection = connect(settings, None).await?;
    output::print_pretty(&connection.client.get(id).await?)
}
