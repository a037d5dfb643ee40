//! Password hashing with argon2id at OWASP parameters (SECURITY.md items 14-16).
//!
//! Hashing is deliberately slow and takes 19 MiB per hash, so it runs on a small pool of
//! dedicated threads (one per core), never on a request worker: concurrent logins queue instead
//! of multiplying memory and threads. Length is checked before hashing so a huge password costs
//! nothing.

use std::sync::{Mutex, OnceLock, mpsc};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, FieldError};

pub const MIN_LENGTH: usize = 8;
pub const MAX_BYTES: usize = 1024;

/// The most common passwords (from public breach corpora), refused outright.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "87654321",
    "11111111",
    "00000000",
    "123123123",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "asdfghjkl",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "monkey123",
    "abc12345",
    "abcd1234",
    "aa123456",
    "admin123",
    "administrator",
    "changeme",
    "changeme123",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "11223344",
    "qwertyui",
    "987654321",
    "999999999",
    "88888888",
    "12341234",
    "1234qwer",
    "qwer1234",
    "access14",
    "master123",
    "shadow123",
    "mustang1",
    "charlie1",
    "football1",
    "tenantbase",
];

/// Checks a new password: 8 characters to 1024 bytes, not one of the most common.
pub fn check_policy(field: &str, password: &str) -> Result<(), FieldError> {
    if password.len() > MAX_BYTES {
        return Err(FieldError::new(field, "too_long", format!("must be at most {MAX_BYTES} bytes")));
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(FieldError::new(field, "too_short", format!("must be at least {MIN_LENGTH} characters")));
    }
    if COMMON.contains(&password.to_lowercase().as_str()) {
        return Err(FieldError::new(field, "too_common", "is one of the most common passwords"));
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on the hashing threads (one per core, started on first use) and waits for it.
async fn on_hashing_threads<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        return_hash_blocks_to_the_system();
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("password-hash-{i}")).spawn(move || {
                // The lock is held only while waiting for the next job, not while running it.
                while let Ok(job) = receiver.lock().map_err(drop).and_then(|r| r.recv().map_err(drop)) {
                    job();
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Mutex::new(sender)
    });
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    queue.lock().map_err(Error::internal)?.send(job).map_err(Error::internal)?;
    result.await.map_err(Error::internal)
}

/// glibc raises its mmap threshold to the largest block freed so far: after the first hash,
/// every hashing thread kept argon2's 19 MiB block in its arena for good (RSS near 100 MiB at
/// rest, 250 MiB after a burst of logins). A fixed threshold keeps blocks of 1 MiB and more in
/// mappings of their own, given back to the system when freed.
fn return_hash_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, and glibc makes it thread-safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Hashes a password to an argon2id PHC string (m = 19456 KiB, t = 2, p = 1: the crate's
/// defaults, which are OWASP's recommendation).
pub async fn hash(password: SecretString) -> Result<String, Error> {
    on_hashing_threads(move || hash_now(password.expose_secret())).await?
}

fn hash_now(password: &str) -> Result<String, Error> {
    Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string()).map_err(Error::internal)
}

/// Verifies a password against a stored hash; with no hash (unknown user) it verifies against a
/// dummy so that both paths take the same time.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, Error> {
    if password.expose_secret().len() > MAX_BYTES {
        return Ok(false);
    }
    on_hashing_threads(move || {
        let stored = match stored {
            Some(hash) => hash,
            None => dummy_hash()?.to_string(),
        };
        let parsed = PasswordHash::new(&stored).map_err(Error::internal)?;
        let matches = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(matches && !stored.is_empty())
    })
    .await?
}

fn dummy_hash() -> Result<&'static str, Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_now("tenantbase-dummy-password-for-timing")?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash(SecretString::from("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify(SecretString::from("correct horse battery"), Some(hash.clone())).await.unwrap());
        assert!(!verify(SecretString::from("wrong horse battery"), Some(hash)).await.unwrap());
        assert!(!verify(SecretString::from("anything at all"), None).await.unwrap());
    }

    #[test]
    fn policy_checks_length_before_anything_else_and_refuses_common_passwords() {
        assert_eq!(check_policy("p", "short").unwrap_err().code, "too_short");
        assert_eq!(check_policy("p", &"x".repeat(1025)).unwrap_err().code, "too_long");
        assert_eq!(check_policy("p", "Password123").unwrap_err().code, "too_common");
        assert!(check_policy("p", &"x".repeat(64)).is_ok());
        assert!(check_policy("p", "ünïcödé-pässwörd").is_ok());
    }
}
