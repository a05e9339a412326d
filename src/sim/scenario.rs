//! The simulator's scenario format: tab-separated `id, delay, timestamp, command, user,
//! argument[, password]`, one action per line.

use std::path::Path;

/// One simulator action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The simulator's action id, sent as `?latest=`.
    pub id: i64,
    pub user: String,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Register { email: String, password: String },
    Tweet { content: String },
    Follow { target: String },
    Unfollow { target: String },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Tweet { .. } => "tweet",
            Command::Follow { .. } => "follow",
            Command::Unfollow { .. } => "unfollow",
        }
    }

    /// The other user this action needs to exist, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Command::Follow { target } | Command::Unfollow { target } => Some(target),
            _ => None,
        }
    }
}

pub fn load(path: &Path) -> Result<Vec<Action>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<Action>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| parse_line(line).map_err(|e| format!("scenario line {}: {e}", n + 1)))
        .collect()
}

fn parse_line(line: &str) -> Result<Action, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 6 {
        return Err(format!(
            "expected at least 6 tab-separated fields, got {}",
            fields.len()
        ));
    }
    let id = fields[0]
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("id `{}` is not an integer", fields[0]))?;
    let user = fields[4].to_owned();
    let argument = fields[5].to_owned();
    let command = match fields[3] {
        "register" => Command::Register {
            email: argument,
            password: fields.get(6).map(|s| s.to_string()).unwrap_or_default(),
        },
        "tweet" => Command::Tweet { content: argument },
        "follow" => Command::Follow { target: argument },
        "unfollow" => Command::Unfollow { target: argument },
        other => return Err(format!("unknown command `{other}`")),
    };
    Ok(Action { id, user, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_commands() {
        let text = "0\t0\t1\tregister\tRoger Histand\tRoger+Histand@hotmail.com\t]=)[X{Km{z\n\
                    3\t5\t2\ttweet\tRoger Histand\tFrom hour to hour\n\
                    7\t5\t3\tfollow\tRoger Histand\tWendell Ballan\n\
                    9\t5\t4\tunfollow\tRoger Histand\tWendell Ballan\n";
        let actions = parse(text).expect("parses");
        assert_eq!(actions.len(), 4);
        assert_eq!(
            actions[0].command,
            Command::Register {
                email: "Roger+Histand@hotmail.com".into(),
                password: "]=)[X{Km{z".into()
            }
        );
        assert_eq!(actions[1].command.name(), "tweet");
        assert_eq!(actions[2].command.target(), Some("Wendell Ballan"));
        assert_eq!(actions[3].id, 9);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse("x\t0\t1\ttweet\tu\tt").is_err());
        assert!(parse("1\t0\t1\tdance\tu\tt").is_err());
        assert!(parse("1\t0\t1").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(raw in "(\\PC|\t|\n){0,200}") {
            let _ = parse(&raw);
        }
    }
}
