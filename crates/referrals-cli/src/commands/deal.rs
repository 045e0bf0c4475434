//! `referrals deal register ID --file F` and `referrals deal update ID --patch F`: deal
//! registrations, checked before sending, and the referral read back after the 204.

use std::path::Path;

use referrals::DealRegistration;

use super::lifecycle::print;
use crate::cli::DealCommand;
use crate::connect::connect;
use crate::failure::Failure;
use crate::input;
use crate::settings::Settings;

/// Runs a `deal` command.
pub async fn run(settings: &Settings, command: &DealCommand) -> Result<(), Failure> {
    match command {
        DealCommand::Register { id, file, .. } => {
            let id = input::referral_id(id)?;
            let deal = registration(file)?;
            let connection = connect(settings, None).await?;
            connection.client.register_deal(id, &deal).await?;
            say!("registered the deal on {id}");
            print(settings, &connection.client.get(id).await?)
        }
        DealCommand::Update { id, patch, .. } => {
            let id = input::referral_id(id)?;
            let operations = input::patch(patch)?;
            for (index, operation) in operations.iter().enumerate() {
                let (referrals::PatchOp::Replace { path, value }
                | referrals::PatchOp::Add { path, value }) = operation;
                referrals::model::check_registration_update(path, value).map_err(|e| {
                    Failure::Usage(format!(
                        "--patch {}: operation {index}: {e}",
                        patch.display()
                    ))
                })?;
            }
            let connection = connect(settings, None).await?;
            connection
                .client
                .update_deal_registration(id, &operations)
                .await?;
            say!("updated the deal registration of {id}");
            print(settings, &connection.client.get(id).await?)
        }
    }
}

/// A registration from `--file`, decoded (errors located) and checked (errors name the field).
fn registration(path: &Path) -> Result<DealRegistration, Failure> {
    let bytes = input::read("--file", path)?;
    let deal: DealRegistration = referrals::model::decode(&bytes).map_err(|e| {
        Failure::Usage(format!(
            "--file {}: not a deal registration: {e}",
            path.display()
        ))
    })?;
    deal.validate()
        .map_err(|e| Failure::Usage(format!("--file {}: {e}", path.display())))?;
    Ok(deal)
}
