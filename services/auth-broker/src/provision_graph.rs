//! The Microsoft Graph calls of provisioning, made with the signed-in
//! administrator's delegated token: find or create an app registration by
//! `uniqueName`, make its permissions and certificate what galsync needs,
//! find or create its service principal and grant the app roles on
//! Microsoft Graph's service principal. Each call says whether it changed
//! something, so a second run changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use galsync_graph::{GraphClient, GraphError, GraphRequest};
use reqwest::Method;
use serde_json::{json, Value};

use crate::error::BrokerError;

/// Microsoft Graph's application id, the same in every tenant.
pub const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Who may do what, for the refusal an administrator without the role gets.
pub const ROLE_HELP: &str = "creating app registrations needs the Application Administrator, \
     Cloud Application Administrator or Global Administrator role, and granting Microsoft Graph \
     application permissions (admin consent) needs the Privileged Role Administrator or Global \
     Administrator role; sign in as a Global Administrator, or have one assign the roles in the \
     Entra admin center (Roles and administrators)";

/// Microsoft Graph's service principal in the tenant and its app roles.
#[derive(Debug, Clone)]
pub struct GraphPrincipal {
    pub id: String,
    /// App role value (`User.Read.All`) → app role id.
    pub role_ids: BTreeMap<String, String>,
}

/// An application as Graph returns it, reduced to what provisioning reads.
#[derive(Debug, Clone)]
pub struct Application {
    pub object_id: String,
    pub app_id: String,
    pub required_resource_access: Vec<Value>,
    pub key_credentials: Vec<Value>,
}

/// Graph with the administrator's token, and who they are for messages.
pub struct ProvisioningGraph {
    pub graph: GraphClient,
    pub signed_in_as: String,
    /// False when adopting: every `ensure_*` only reports what is missing
    /// and writes nothing.
    pub repair: bool,
}

impl ProvisioningGraph {
    fn refusal(&self, action: &str, error: GraphError) -> BrokerError {
        if let GraphError::Api(api) = &error {
            if api.status == 403 {
                return BrokerError::PermissionDenied(format!(
                    "{} may not {action}: Entra answered {} ({}); {ROLE_HELP}",
                    self.signed_in_as, api.code, api.message
                ));
            }
        }
        BrokerError::Unavailable(format!("failed to {action}: {error}"))
    }

    async fn send(&self, action: &str, request: GraphRequest) -> Result<(u16, Value), BrokerError> {
        match self.graph.send(request).await {
            Ok(response) => {
                let body: Value = response.json().unwrap_or(Value::Null);
                Ok((response.status, body))
            }
            Err(error) => Err(self.refusal(action, error)),
        }
    }

    fn json_request(
        method: Method,
        url: String,
        body: &Value,
    ) -> Result<GraphRequest, BrokerError> {
        GraphRequest::new(method, url)
            .with_json(body)
            .map_err(|error| BrokerError::Internal(error.to_string()))
    }

    /// Microsoft Graph's service principal, with its app role ids looked up
    /// by value (never hard-coded).
    pub async fn microsoft_graph_principal(&self) -> Result<GraphPrincipal, BrokerError> {
        let url = format!("/servicePrincipals?$filter=appId eq '{MICROSOFT_GRAPH_APP_ID}'");
        let (_, body) = self
            .send(
                "read Microsoft Graph's service principal",
                GraphRequest::get(url),
            )
            .await?;
        let Some(principal) = body["value"].as_array().and_then(|list| list.first()) else {
            return Err(BrokerError::FailedPrecondition(
                "the tenant has no service principal for Microsoft Graph".to_owned(),
            ));
        };
        let mut role_ids = BTreeMap::new();
        for role in principal["appRoles"].as_array().into_iter().flatten() {
            if let (Some(value), Some(id)) = (role["value"].as_str(), role["id"].as_str()) {
                role_ids.insert(value.to_owned(), id.to_owned());
            }
        }
        Ok(GraphPrincipal {
            id: text(principal, "id"),
            role_ids,
        })
    }

    /// The application with this `uniqueName`, if there is one.
    pub async fn find_application(
        &self,
        unique_name: &str,
    ) -> Result<Option<Application>, BrokerError> {
        let url = format!("/applications(uniqueName='{unique_name}')");
        match self.graph.send(GraphRequest::get(url)).await {
            Ok(response) => {
                let body: Value = response.json().unwrap_or(Value::Null);
                Ok(Some(application_from(&body)))
            }
            Err(GraphError::Api(api)) if api.status == 404 => Ok(None),
            Err(error) => Err(self.refusal("read app registrations", error)),
        }
    }

    /// Creates the application with the upsert by `uniqueName` (a retry
    /// after a lost answer updates instead of making a duplicate).
    pub async fn create_application(
        &self,
        unique_name: &str,
        display_name: &str,
        required_resource_access: &[Value],
    ) -> Result<Application, BrokerError> {
        let body = json!({
            "displayName": display_name,
            "signInAudience": "AzureADMyOrg",
            "tags": ["galsync"],
            "requiredResourceAccess": required_resource_access,
        });
        let url = format!("/applications(uniqueName='{unique_name}')");
        let request = Self::json_request(Method::PATCH, url, &body)?
            .with_header("Prefer", "create-if-missing");
        let (status, created) = self.send("create app registrations", request).await?;
        if status == 201 {
            return Ok(application_from(&created));
        }
        // 204: it existed after all (created by a run whose answer was lost).
        self.find_application(unique_name).await?.ok_or_else(|| {
            BrokerError::Unavailable(format!("app {unique_name} vanished after its upsert"))
        })
    }

    /// Adds the Graph app roles `role_ids` the app does not request yet;
    /// other resources and roles stay. Returns the role ids added.
    pub async fn ensure_required_access(
        &self,
        app: &Application,
        role_ids: &[String],
    ) -> Result<Vec<String>, BrokerError> {
        let mut access = app.required_resource_access.clone();
        let graph_entry = access
            .iter()
            .position(|entry| entry["resourceAppId"] == MICROSOFT_GRAPH_APP_ID);
        let index = match graph_entry {
            Some(index) => index,
            None => {
                access.push(json!({"resourceAppId": MICROSOFT_GRAPH_APP_ID, "resourceAccess": []}));
                access.len() - 1
            }
        };
        let requested: BTreeSet<String> = access[index]["resourceAccess"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["type"] == "Role")
            .map(|item| text(item, "id"))
            .collect();
        let missing: Vec<String> = role_ids
            .iter()
            .filter(|id| !requested.contains(*id))
            .cloned()
            .collect();
        if missing.is_empty() || !self.repair {
            return Ok(missing);
        }
        let mut items = access[index]["resourceAccess"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for id in &missing {
            items.push(json!({"id": id, "type": "Role"}));
        }
        access[index]["resourceAccess"] = Value::Array(items);
        let url = format!("/applications/{}", app.object_id);
        let request = Self::json_request(
            Method::PATCH,
            url,
            &json!({"requiredResourceAccess": access}),
        )?;
        self.send("update app registrations", request).await?;
        Ok(missing)
    }

    /// Adds the certificate (public part) unless a key with its SHA-1
    /// thumbprint is there. Existing keys are kept by `keyId`, since writing
    /// `keyCredentials` replaces the collection. True when it was added.
    pub async fn ensure_certificate(
        &self,
        app: &Application,
        certificate_der: &[u8],
        thumbprint_sha1_hex: &str,
        display_name: &str,
    ) -> Result<bool, BrokerError> {
        let engine = base64::engine::general_purpose::STANDARD;
        let present = app.key_credentials.iter().any(|key| {
            key["customKeyIdentifier"]
                .as_str()
                .and_then(|encoded| engine.decode(encoded).ok())
                .is_some_and(|bytes| hex::encode(bytes).eq_ignore_ascii_case(thumbprint_sha1_hex))
        });
        if present || !self.repair {
            return Ok(!present);
        }
        let mut keys: Vec<Value> = app
            .key_credentials
            .iter()
            .map(|key| json!({"keyId": key["keyId"], "key": null}))
            .collect();
        keys.push(json!({
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": engine.encode(certificate_der),
            "displayName": display_name,
        }));
        let url = format!("/applications/{}", app.object_id);
        let request = Self::json_request(Method::PATCH, url, &json!({"keyCredentials": keys}))?;
        self.send("add a certificate to app registrations", request)
            .await?;
        Ok(true)
    }

    /// The `keyId` of the key with this SHA-1 thumbprint on the application
    /// (read back: an update answers 204 without the keys).
    pub async fn key_id_of(
        &self,
        object_id: &str,
        thumbprint_sha1_hex: &str,
    ) -> Result<Option<String>, BrokerError> {
        let url = format!("/applications/{object_id}");
        let (_, body) = self
            .send("read app registrations", GraphRequest::get(url))
            .await?;
        let engine = base64::engine::general_purpose::STANDARD;
        let key_id = body["keyCredentials"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|key| {
                key["customKeyIdentifier"]
                    .as_str()
                    .and_then(|encoded| engine.decode(encoded).ok())
                    .is_some_and(|bytes| {
                        hex::encode(bytes).eq_ignore_ascii_case(thumbprint_sha1_hex)
                    })
            })
            .and_then(|key| key["keyId"].as_str())
            .map(str::to_owned);
        Ok(key_id)
    }

    /// The app's service principal in the tenant: (its id, whether created).
    pub async fn ensure_service_principal(
        &self,
        app_id: &str,
    ) -> Result<(String, bool), BrokerError> {
        let url = format!("/servicePrincipals?$filter=appId eq '{app_id}'");
        let (_, found) = self
            .send("read service principals", GraphRequest::get(url))
            .await?;
        if let Some(principal) = found["value"].as_array().and_then(|list| list.first()) {
            return Ok((text(principal, "id"), false));
        }
        if !self.repair {
            return Ok((String::new(), true));
        }
        let request = Self::json_request(
            Method::POST,
            "/servicePrincipals".to_owned(),
            &json!({"appId": app_id}),
        )?;
        let (_, created) = self.send("create service principals", request).await?;
        Ok((text(&created, "id"), true))
    }

    /// Grants each of `role_ids` the principal does not hold yet on
    /// Microsoft Graph (admin consent). Returns the role ids granted.
    pub async fn grant_missing_roles(
        &self,
        graph_principal: &GraphPrincipal,
        principal_id: &str,
        role_ids: &[String],
    ) -> Result<Vec<String>, BrokerError> {
        let url = format!(
            "/servicePrincipals/{}/appRoleAssignedTo",
            graph_principal.id
        );
        let (_, assigned) = self
            .send(
                "read Microsoft Graph's app role assignments",
                GraphRequest::get(url.clone()),
            )
            .await?;
        let held: BTreeSet<String> = assigned["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|assignment| assignment["principalId"] == principal_id)
            .map(|assignment| text(assignment, "appRoleId"))
            .collect();
        let mut granted = Vec::new();
        for role_id in role_ids {
            if held.contains(role_id) {
                continue;
            }
            if !self.repair {
                granted.push(role_id.clone());
                continue;
            }
            let body = json!({
                "principalId": principal_id,
                "resourceId": graph_principal.id,
                "appRoleId": role_id,
            });
            let request = Self::json_request(Method::POST, url.clone(), &body)?;
            self.send("grant Microsoft Graph application permissions", request)
                .await?;
            granted.push(role_id.clone());
        }
        Ok(granted)
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn application_from(body: &Value) -> Application {
    Application {
        object_id: text(body, "id"),
        app_id: text(body, "appId"),
        required_resource_access: body["requiredResourceAccess"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        key_credentials: body["keyCredentials"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    }
}
