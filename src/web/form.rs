//! URL-encoded form bodies, read with a size limit. Missing fields read as empty, as the
//! classic forms treat them, so no form can fail with a parse error page.

use poem::error::ReadBodyError;
use poem::Body;

use crate::error::AppError;
use crate::error::AppResult;
use crate::limits::MAX_BODY_BYTES;

pub struct Form(Vec<(String, String)>);

impl Form {
    /// A form with no fields, for a page shown before anything was submitted.
    pub fn empty() -> Form {
        Form(Vec::new())
    }

    /// Reads the body up to the app's body limit (far above any form of ours: a message is
    /// at most 1000 characters).
    pub async fn read(body: Body) -> AppResult<Form> {
        let bytes = body
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                ReadBodyError::PayloadTooLarge => AppError::TooLarge,
                _ => AppError::invalid("The form could not be read."),
            })?;
        Ok(Form(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }

    /// The first value of `name`, or `""` when the form has none.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }
}
