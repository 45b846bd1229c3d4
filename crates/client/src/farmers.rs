//! The co-op's people and devices: list the farmers, add one, give a farmer a pairing code (digits
//! and a QR code to scan), list devices and revoke a lost phone.
//!
//! Online only, like going live: a pairing code is issued by the marketplace and is only good
//! there, and a revocation that waits in an outbox would leave a stolen phone working.

use domain::access::Role;
use domain::ids::{DeviceId, MemberId};
use domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use crate::{AccountInfo, Client, ClientError, remote};

/// A member of the co-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MemberInfo {
    pub id: MemberId,
    pub role: Role,
    pub name: String,
    /// Farmers only: the public farm page.
    pub farm_url: Option<String>,
}

/// A one-time pairing code for a member's new device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PairingInfo {
    /// Eight digits.
    pub code: String,
    pub member: MemberInfo,
    pub expires_at: Timestamp,
    /// The code as an SVG QR code, for the farmer's phone to scan.
    pub qr_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NewFarmer {
    pub member: MemberInfo,
    pub pairing: PairingInfo,
}

/// A paired device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub member_id: MemberId,
    pub member_name: String,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Client {
    pub async fn members(&self) -> Result<Vec<MemberInfo>, ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.get_json(&token, "/members").await?)
    }

    /// Adds a farmer and issues the first pairing code for their phone.
    pub async fn add_farmer(&self, name: &str) -> Result<NewFarmer, ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.post_json(&token, "/members", &json!({ "role": Role::Farmer, "name": name })).await?)
    }

    pub async fn new_pairing_code(&self, member: MemberId) -> Result<PairingInfo, ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.post_json(&token, &format!("/members/{member}/pairing-codes"), &json!({})).await?)
    }

    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.get_json(&token, "/devices").await?)
    }

    /// Revokes a device: its token stops working at once.
    pub async fn revoke_device(&self, device: DeviceId) -> Result<(), ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.delete(&token, &format!("/devices/{device}")).await?)
    }

    /// The marketplace this device is paired with, and its token.
    /// Renames this device in the co-op's device list. Online only: the name lives with the
    /// marketplace, and the copy here is what it answered.
    pub async fn rename_this_device(&self, name: &str) -> Result<AccountInfo, ClientError> {
        let (remote, token) = self.online()?;
        let device_id = self.account()?.ok_or(ClientError::NotPaired)?.device_id;
        let device: DeviceInfo = remote.patch_json(&token, &format!("/devices/{device_id}"), &json!({ "name": name })).await?;
        // Read again: the account may have changed while the marketplace answered.
        let mut account = self.account()?.ok_or(ClientError::NotPaired)?;
        if account.device_id == device.id {
            account.device_name = device.name;
            self.store().set_account(&account)?;
        }
        Ok(crate::account_info(&account))
    }

    pub(crate) fn online(&self) -> Result<(remote::Remote, String), ClientError> {
        let account = self.account()?.ok_or(ClientError::NotPaired)?;
        Ok((remote::Remote::new(&account.server_url, std::time::Duration::from_secs(15))?, account.token))
    }
}
