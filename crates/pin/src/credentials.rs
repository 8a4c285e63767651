//! Registry credentials as `docker login` (and `skopeo login --authfile`) leave them: the docker
//! `config.json` in `$DOCKER_CONFIG` or `~/.docker`, with `auths` (base64 `auth`, or `username`
//! and `password`), `credHelpers` and `credsStore`. No credentials means anonymous access (the
//! registry's bearer-token flow); a config that exists but cannot be used is an error, never
//! a silent fall back to anonymous.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;
use std::path::PathBuf;

/// A docker config that exists but cannot be used: never a silent fall back to anonymous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The file cannot be read.
    #[error("{}: the docker config cannot be read: {why}; make it readable, or set DOCKER_CONFIG to a directory whose config.json is", path.display())]
    Unreadable {
        /// The config file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The file is not JSON.
    #[error("{}: the docker config is not valid JSON: {why}; fix it (or log in again with `docker login`), or set DOCKER_CONFIG to another directory", path.display())]
    NotJson {
        /// The config file.
        path: PathBuf,
        /// The parser's words.
        why: String,
    },
    /// It holds an identity token, which this tool cannot exchange.
    #[error(
        "the docker config holds an identity token for {registry}, which this tool cannot exchange: log in with a username and password (or an access token as the password)"
    )]
    IdentityToken {
        /// The registry.
        registry: String,
    },
    /// Its credentials for the registry (a helper, a store) cannot be used.
    #[error("{}: the docker config's credentials for {registry} cannot be used: {why}", path.display())]
    Unusable {
        /// The config file.
        path: PathBuf,
        /// The registry.
        registry: String,
        /// Why.
        why: String,
    },
}

/// Where `docker login` keeps the config: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json` (the rule the `docker_credential` crate and docker itself use).
fn config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|dir| dir.join("config.json"))
}

/// Docker Hub's credentials are stored under its v1 address, whatever the image says.
fn server_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

/// Checks the docker config once, before any lookup: `Err` names the file and the fix when it
/// exists but cannot be read or is not JSON (no file at all is fine: anonymous access). It only
/// reads the file: no credential helper runs for a registry no image names.
pub fn check_config() -> Result<(), CredentialsError> {
    read_config().map(drop)
}

/// The docker config's path and bytes, `None` when there is none; an unreadable file or one that
/// is not JSON is an error naming it (the crate's own reader reports a missing and a malformed
/// file alike, which must not mean anonymous).
fn read_config() -> Result<Option<(PathBuf, Vec<u8>)>, CredentialsError> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CredentialsError::Unreadable {
                path,
                why: e.to_string(),
            });
        }
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return Err(CredentialsError::NotJson {
            path,
            why: e.to_string(),
        });
    }
    Ok(Some((path, bytes)))
}

/// The credentials for `registry` (a host, with its port when it has one). No config file means
/// anonymous; a config that cannot be used is an error ([`read_config`]).
pub fn for_registry(registry: &str) -> Result<RegistryAuth, CredentialsError> {
    let Some((path, bytes)) = read_config()? else {
        return Ok(RegistryAuth::Anonymous);
    };
    let credential =
        docker_credential::get_credential_from_reader(bytes.as_slice(), server_key(registry));
    match credential {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => Err(CredentialsError::IdentityToken {
            registry: registry.to_owned(),
        }),
        Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(CredentialsError::Unusable {
            path,
            registry: registry.to_owned(),
            why: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_credentials_live_under_the_v1_address() {
        assert_eq!(server_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("index.docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("ghcr.io"), "ghcr.io");
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
