//! The service environment as a handler argument.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::{error::Error, services::Env};

impl FromRequest for Env {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.app_data::<Env>().cloned().ok_or_else(|| Error::internal("the service environment is not registered")),
        )
    }
}
