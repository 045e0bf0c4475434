//! The API's error body.

model_struct! {
    /// The body of an error response: `{"error": {"code", "message", "target", "innerError"}}`.
    ///
    /// ```
    /// use referrals_model::{decode, ErrorResponse};
    ///
    /// let body: ErrorResponse = decode(br#"{"error":{"code":"itemNotFound","message":"No referral"}}"#)?;
    /// assert_eq!(body.code(), Some("itemNotFound"));
    /// # Ok::<(), referrals_model::DecodeError>(())
    /// ```
    pub struct ErrorResponse {
        /// The error.
        pub error: ErrorDetail = "error",
    }
}

model_struct! {
    /// The `error` object of an [`ErrorResponse`]: what the API said went wrong. (A whole failed
    /// response, with its status and request id, is `referrals_query::ApiError`.)
    pub struct ErrorDetail {
        /// A machine-readable code such as `itemNotFound` or `preconditionFailed`.
        pub code: String = "code",
        /// A human-readable message.
        pub message: String = "message",
        /// What the error is about.
        pub target: String = "target",
        /// A more specific error.
        pub inner_error: InnerError = "innerError",
    }
}

model_struct! {
    /// The more specific error inside an [`ErrorDetail`].
    pub struct InnerError {
        /// A machine-readable code.
        pub code: String = "code",
        /// A human-readable message.
        pub message: String = "message",
    }
}

impl ErrorResponse {
    /// The error's code, if any.
    pub fn code(&self) -> Option<&str> {
        self.error.as_ref()?.code.as_deref()
    }

    /// The error's message, if any.
    pub fn message(&self) -> Option<&str> {
        self.error.as_ref()?.message.as_deref()
    }
}
