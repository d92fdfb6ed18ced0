//! SCRAM-SHA-256 password authentication, the server's side (RFC 5802 and
//! RFC 7677, as PostgreSQL does it): the password never crosses the wire,
//! and the client learns that the server knows it too.
//!
//! Why not pgwire's SASL support: it comes with its TLS stack (its `scram`
//! code is behind the `server-api-ring`/`-aws-lc-rs` features, which pull
//! in `ring` or `aws-lc-rs`, `tokio-rustls` and `x509-certificate`, none of
//! them available to this build) and with its own connection handling,
//! which the stand-in does not use (see session.rs). The exchange is small;
//! its primitives (HMAC-SHA-256, and the salted password with SASLprep as
//! clients compute it) come from crates tokio-postgres already brings.
//!
//! No channel binding: the stand-in has no TLS to bind to, so a client
//! asking for it (`p=`) is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The mechanism offered to clients.
pub(super) const MECHANISM: &str = "SCRAM-SHA-256";

/// Why an exchange failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(super) enum ScramError {
    /// The client broke the protocol.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client asked for channel binding, which needs TLS.
    #[error("channel binding is not supported (no TLS)")]
    ChannelBinding,
    /// The proof is wrong: the wrong password.
    #[error("wrong password")]
    WrongProof,
}

/// What the server keeps of the password: PostgreSQL's SCRAM verifier.
#[derive(Clone, PartialEq)]
pub(super) struct Verifier {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

impl Verifier {
    /// The verifier of `password`, with a random salt (PostgreSQL's
    /// `scram_sha_256` password hash, 4096 iterations).
    pub(super) fn new(password: &str) -> Result<Verifier, ScramError> {
        let hashed = postgres_protocol::password::scram_sha_256(password.as_bytes());
        // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
        let bad = || ScramError::Malformed("password verifier");
        let rest = hashed.strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
        let decode = |s: &str| B64.decode(s).map_err(|_| bad());
        Ok(Verifier {
            salt: decode(salt)?,
            iterations: iterations.parse().map_err(|_| bad())?,
            stored_key: decode(stored)?,
            server_key: decode(server)?,
        })
    }
}

/// An exchange after the server's first message.
pub(super) struct Exchange {
    /// `client-first-message-bare`, `server-first-message`: the start of
    /// the AuthMessage both sides sign.
    signed: String,
    /// The combined nonce the client must echo.
    nonce: String,
    /// The GS2 header, which the client echoes base64-encoded.
    gs2: String,
}

/// The body of the client's `SASLInitialResponse`: the mechanism it chose
/// and its first message.
pub(super) fn initial_response(body: &[u8]) -> Result<(&str, &[u8]), ScramError> {
    let bad = || ScramError::Malformed("SASLInitialResponse");
    let end = body.iter().position(|&b| b == 0).ok_or_else(bad)?;
    let mechanism = std::str::from_utf8(&body[..end]).map_err(|_| bad())?;
    let rest = &body[end + 1..];
    let len: [u8; 4] = rest
        .get(..4)
        .and_then(|l| l.try_into().ok())
        .ok_or_else(bad)?;
    let data = &rest[4..];
    match usize::try_from(i32::from_be_bytes(len)) {
        Ok(n) if n == data.len() => Ok((mechanism, data)),
        _ => Err(bad()),
    }
}

/// Reads the client's first message and answers it: the server's first
/// message (nonce, salt, iterations).
pub(super) fn server_first(
    v: &Verifier,
    client_first: &[u8],
) -> Result<(Exchange, String), ScramError> {
    let bad = ScramError::Malformed;
    let msg = std::str::from_utf8(client_first).map_err(|_| bad("not UTF-8"))?;
    // gs2-header: cbind-flag "," [authzid] ","
    let (flag, rest) = msg.split_once(',').ok_or(bad("no GS2 header"))?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(bad("unknown channel binding flag")),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(bad("no GS2 header"))?;
    if !authzid.is_empty() {
        return Err(bad("authorization identities are not supported"));
    }
    let gs2 = msg[..msg.len() - bare.len()].to_string();
    // client-first-message-bare: "n=" user "," "r=" nonce ["," extensions].
    // The user name is ignored, as in PostgreSQL: the startup packet's counts.
    let mut attrs = bare.split(',');
    if !attrs.next().is_some_and(|a| a.starts_with("n=")) {
        return Err(bad("expected the user name attribute"));
    }
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        .ok_or(bad("expected a nonce"))?;
    let mut server_nonce = [0u8; 18];
    rand::fill(&mut server_nonce);
    let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
    let first = format!("r={nonce},s={},i={}", B64.encode(&v.salt), v.iterations);
    let exchange = Exchange {
        signed: format!("{bare},{first}"),
        nonce,
        gs2,
    };
    Ok((exchange, first))
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScramError> {
    // HMAC takes keys of any length: the error cannot happen.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| ScramError::Malformed("HMAC key"))?;
    m.update(data);
    Ok(m.finalize().into_bytes().to_vec())
}

/// Constant-time equality, so the time taken tells nothing about the keys.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Exchange {
    /// Checks the client's final message (its proof of the password) and
    /// returns the server's final message (the server's proof).
    pub(super) fn finish(self, v: &Verifier, client_final: &[u8]) -> Result<String, ScramError> {
        let bad = ScramError::Malformed;
        let msg = std::str::from_utf8(client_final).map_err(|_| bad("not UTF-8"))?;
        let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(bad("expected a proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or(bad("expected channel binding"))?;
        if B64.decode(binding).ok().as_deref() != Some(self.gs2.as_bytes()) {
            return Err(bad("unexpected channel binding"));
        }
        if attrs.next().and_then(|a| a.strip_prefix("r=")) != Some(self.nonce.as_str()) {
            return Err(bad("nonce does not match"));
        }
        let proof = B64.decode(proof).map_err(|_| bad("invalid proof"))?;
        let auth_message = format!("{},{without_proof}", self.signed);
        let signature = hmac(&v.stored_key, auth_message.as_bytes())?;
        if proof.len() != signature.len() {
            return Err(bad("invalid proof"));
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !same(&Sha256::digest(&client_key), &v.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&v.server_key, auth_message.as_bytes())?;
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    use super::*;

    /// tokio-postgres' client side against this server side.
    fn exchange(server_password: &str, client_password: &str) -> Result<(), ScramError> {
        let v = Verifier::new(server_password).expect("verifier");
        let mut client =
            ScramSha256::new(client_password.as_bytes(), ChannelBinding::unsupported());
        let (ex, first) = server_first(&v, client.message())?;
        client
            .update(first.as_bytes())
            .expect("the client takes the server's first message");
        let last = ex.finish(&v, client.message())?;
        client
            .finish(last.as_bytes())
            .expect("the client accepts the server's proof");
        Ok(())
    }

    #[test]
    fn the_right_password_passes_both_ways() {
        exchange("s3cret", "s3cret").expect("authenticated");
        exchange("pässwörd ﬁ", "pässwörd ﬁ").expect("SASLprep on both sides");
    }

    #[test]
    fn a_wrong_password_is_a_wrong_proof() {
        assert_eq!(exchange("s3cret", "guess"), Err(ScramError::WrongProof));
        assert_eq!(exchange("s3cret", ""), Err(ScramError::WrongProof));
    }

    #[test]
    fn malformed_and_channel_bound_messages_are_refused() {
        let v = Verifier::new("x").expect("verifier");
        for (msg, want) in [
            (
                &b"p=tls-server-end-point,,n=,r=abc"[..],
                ScramError::ChannelBinding,
            ),
            (
                b"n,a=admin,n=,r=abc",
                ScramError::Malformed("authorization identities are not supported"),
            ),
            (b"n,,n=,r=", ScramError::Malformed("expected a nonce")),
            (b"garbage", ScramError::Malformed("no GS2 header")),
        ] {
            assert_eq!(server_first(&v, msg).err(), Some(want));
        }
        let (ex, _) = server_first(&v, b"n,,n=,r=abc").expect("first");
        assert_eq!(
            ex.finish(&v, b"c=biws,r=abcWRONG,p=AAAA").err(),
            Some(ScramError::Malformed("nonce does not match"))
        );
    }

    #[test]
    fn the_initial_response_names_its_mechanism() {
        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend(5i32.to_be_bytes());
        body.extend(b"n,,n=");
        assert_eq!(
            initial_response(&body),
            Ok(("SCRAM-SHA-256", &b"n,,n="[..]))
        );
        assert!(initial_response(&body[..body.len() - 1]).is_err());
    }
}
