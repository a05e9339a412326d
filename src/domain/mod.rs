//! Domain values parsed once at the edge: a value of these types is valid by construction.
//!
//! The error texts are the ones users see, on the API (`error_msg`) and on the pages
//! (`div.error`), so they live here, once.

mod chars;
mod email;
mod message_text;
mod password;
mod username;

pub use email::Email;
pub use message_text::{MessageText, MAX_MESSAGE_CHARS};
pub use password::{HashMemory, Password};
pub use username::{Username, UsernameQuery, MAX_USERNAME_CHARS, RESERVED_USERNAMES};
