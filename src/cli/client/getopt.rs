//! Python's `getopt.getopt(args, shortopts, longopts)`: POSIX-style, stops at the first non-option;
//! long options may be abbreviated to a unique prefix.

/// An option the parser accepts.
#[derive(Debug, Clone, Copy)]
pub struct LongOpt {
    pub name: &'static str,
    pub takes_arg: bool,
}

/// A parsed option: its name with dashes (`-c`, `--conf`) and its argument (or empty).
pub type Parsed = (String, String);

/// getopt.py `GetoptError`: the message Python gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetoptError(pub String);

/// Parses `args` (without the program name): the options and the remaining arguments.
pub fn getopt(
    args: &[String],
    shortopts: &str,
    longopts: &[LongOpt],
) -> Result<(Vec<Parsed>, Vec<String>), GetoptError> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            i += 1;
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let opt = match_long(name, longopts)?;
            let value = match (opt.takes_arg, value) {
                (true, Some(v)) => v,
                (true, None) => {
                    let v = args.get(i).ok_or_else(|| {
                        GetoptError(format!("option --{} requires argument", opt.name))
                    })?;
                    i += 1;
                    v.clone()
                }
                (false, Some(_)) => {
                    return Err(GetoptError(format!(
                        "option --{} must not have an argument",
                        opt.name
                    )));
                }
                (false, None) => String::new(),
            };
            opts.push((format!("--{}", opt.name), value));
            continue;
        }
        if arg.starts_with('-') && arg != "-" {
            i += 1;
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let takes = short_takes_arg(c, shortopts)?;
                if !takes {
                    opts.push((format!("-{c}"), String::new()));
                    continue;
                }
                let value = if j < chars.len() {
                    chars[j..].iter().collect()
                } else {
                    let v = args
                        .get(i)
                        .ok_or_else(|| GetoptError(format!("option -{c} requires argument")))?;
                    i += 1;
                    v.clone()
                };
                opts.push((format!("-{c}"), value));
                break;
            }
            continue;
        }
        break;
    }
    Ok((opts, args[i..].to_vec()))
}

fn short_takes_arg(c: char, shortopts: &str) -> Result<bool, GetoptError> {
    let chars: Vec<char> = shortopts.chars().collect();
    for (k, &s) in chars.iter().enumerate() {
        if s == c && s != ':' {
            return Ok(chars.get(k + 1) == Some(&':'));
        }
    }
    Err(GetoptError(format!("option -{c} not recognized")))
}

fn match_long(name: &str, longopts: &[LongOpt]) -> Result<LongOpt, GetoptError> {
    if let Some(exact) = longopts.iter().find(|o| o.name == name) {
        return Ok(*exact);
    }
    let candidates: Vec<&LongOpt> = longopts
        .iter()
        .filter(|o| o.name.starts_with(name))
        .collect();
    match candidates.as_slice() {
        [] => Err(GetoptError(format!("option --{name} not recognized"))),
        [one] => Ok(**one),
        _ => Err(GetoptError(format!("option --{name} not a unique prefix"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: [LongOpt; 3] = [
        LongOpt {
            name: "conf",
            takes_arg: true,
        },
        LongOpt {
            name: "dp",
            takes_arg: false,
        },
        LongOpt {
            name: "dump-pretty",
            takes_arg: false,
        },
    ];

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn posix_style() {
        let (o, rest) = getopt(
            &s(&["-dc", "/x", "--conf=/y", "--dump", "status", "-d"]),
            "c:d",
            &LONG,
        )
        .unwrap();
        assert_eq!(
            o,
            vec![
                ("-d".into(), "".into()),
                ("-c".into(), "/x".into()),
                ("--conf".into(), "/y".into()),
                ("--dump-pretty".into(), "".into())
            ]
        );
        assert_eq!(rest, s(&["status", "-d"]));
        let (o, _) = getopt(&s(&["-c/z"]), "c:d", &LONG).unwrap();
        assert_eq!(o[0].1, "/z");
    }

    #[test]
    fn errors() {
        assert!(getopt(&s(&["-z"]), "c:d", &LONG).is_err());
        assert!(getopt(&s(&["--d"]), "c:d", &LONG).is_err());
        assert!(getopt(&s(&["-c"]), "c:d", &LONG).is_err());
        assert!(getopt(&s(&["--dp=1"]), "c:d", &LONG).is_err());
        let (o, rest) = getopt(&s(&["--", "-d"]), "c:d", &LONG).unwrap();
        assert!(o.is_empty() && rest == s(&["-d"]));
    }
}
