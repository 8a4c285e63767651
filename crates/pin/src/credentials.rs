//! Registry credentials as `docker login` (and `skopeo login --authfile`) leave them: the docker
//! `config.json` in `$DOCKER_CONFIG` or `~/.docker`, with `auths` (base64 `auth`, or `username`
//! and `password`), `credHelpers` and `credsStore`. No credentials means anonymous access (the
//! registry's bearer-token flow); a config that exists but cannot be used is an error, never
//! a silent fall back to anonymous.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// Docker Hub's credentials are stored under its v1 address, whatever the image says.
fn server_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

/// The credentials for `registry` (a host, with its port when it has one).
pub fn for_registry(registry: &str) -> Result<RegistryAuth, String> {
    match docker_credential::get_credential(server_key(registry)) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => Err(format!(
            "the docker config holds an identity token for {registry}, which this tool cannot exchange: log in with a username and password (or an access token as the password)"
        )),
        Err(
            CredentialRetrievalError::NoCredentialConfigured
            | CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError,
        ) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(format!(
            "the docker config's credentials for {registry} cannot be used: {e} (check $DOCKER_CONFIG/config.json or ~/.docker/config.json)"
        )),
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
