//! Reading options out of a [`Store`]: configparser's `get` with fail2ban's `%(name)s` interpolation
//! (configparserinc.py `BasicInterpolationWithName`, `_map_section_options`, `get_ex`), and the
//! merging of several files into one store (configparserinc.py `read`, `merge_section`).

use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::ini::{Section, Store, DEFAULT_SECTION};

/// configparser's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// Extra variables given to a `get` (configparser's `vars`): they win over the section and DEFAULT.
/// configparser turns every value into a string except `None`, which stays `None` (`_unify_values`).
pub type Vars = IndexMap<String, Option<String>>;

// configparserinc.py's three regexes over option names and values, written out by hand: compiled, their
// Unicode `\w` cost more than reading a whole filter. Each function gives what the regex crate gave for
// the regex in its comment (the tests compare them on generated names).

/// `[\w\-]`: a character of a section name.
fn is_section_char(c: char) -> bool {
    c == '-' || regex_syntax::is_word_character(c)
}

/// The byte length of the longest run of `is` characters at the start of `s`.
fn run_len(s: &str, is: impl Fn(char) -> bool) -> usize {
    s.chars().take_while(|&c| is(c)).map(char::len_utf8).sum()
}

/// SECTION_OPTSUBST_CRE (`%\(([\w\-]+/([^\)]+))\)s`), every match: `(sec/opt, opt)`.
fn section_substs(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find("%(") {
        let q = from + p + 2;
        let name = run_len(&s[q..], is_section_char);
        // `[\w\-]+` then `/`, `[^)]+` then `)s`: neither run can end anywhere else than where it stops.
        let opt_start = q + name + 1;
        let matched = (name > 0 && s[q + name..].starts_with('/'))
            .then(|| s[opt_start..].find(')'))
            .flatten()
            .filter(|&n| n > 0 && s[opt_start + n..].starts_with(")s"));
        match matched {
            Some(n) => {
                out.push((&s[q..opt_start + n], &s[opt_start..opt_start + n]));
                from = opt_start + n + 2;
            }
            None => from = q - 1,
        }
    }
    out
}

/// SECTION_OPTNAME_CRE (`^([\w\-]+)/([^\s>]+)$`): `(sec, opt)`.
fn section_optname(s: &str) -> Option<(&str, &str)> {
    let name = run_len(s, is_section_char);
    let opt = s[name..].strip_prefix('/')?;
    (name > 0 && !opt.is_empty() && !opt.contains(|c: char| c.is_whitespace() || c == '>'))
        .then(|| (&s[..name], opt))
}

/// Splits a conditional name (`Init?family=inet6` → `("Init", "?family=inet6")`): CONDITIONAL_RE
/// (`^(\w+)(\?.+)$`).
pub fn split_conditional(name: &str) -> Option<(&str, &str)> {
    let base = run_len(name, regex_syntax::is_word_character);
    let cond = &name[base..];
    (base > 0 && cond.len() > 1 && cond.starts_with('?') && !cond.contains('\n'))
        .then(|| (&name[..base], cond))
}

/// The layered map one interpolation step looks names up in: configparser's
/// `ChainMap(vars, section, DEFAULT)`, where the first layer also receives `__name__` and the
/// `sec/opt` values fail2ban adds on the fly.
struct Chain<'a> {
    first: Vars,
    section: Option<&'a Section>,
    defaults: &'a Section,
}

impl Chain<'_> {
    fn contains(&self, key: &str) -> bool {
        self.layer(key).is_some()
    }

    /// The value (`None` for a `None` var) and whether it came from the section layer.
    fn layer(&self, key: &str) -> Option<(Option<&str>, bool)> {
        if let Some(v) = self.first.get(key) {
            return Some((v.as_deref(), false));
        }
        if let Some(v) = self.section.and_then(|s| s.get(key)) {
            return Some((Some(v), true));
        }
        self.defaults.get(key).map(|v| (Some(v.as_str()), false))
    }
}

impl Store {
    /// Whether the section exists (`DEFAULT` never "exists" as a section, as in configparser).
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// configparser `has_option`: in the section or in DEFAULT.
    pub fn has_option(&self, section: &str, option: &str) -> bool {
        let option = option.to_lowercase();
        if section.is_empty() || section == DEFAULT_SECTION {
            return self.defaults.contains_key(&option);
        }
        match self.sections.get(section) {
            Some(s) => s.contains_key(&option) || self.defaults.contains_key(&option),
            None => false,
        }
    }

    /// The section's own option names (configparserinc.py `options(withDefault=False)`).
    pub fn own_options(&self, section: &str) -> Result<Vec<String>> {
        self.sections
            .get(section)
            .map(|s| s.keys().cloned().collect())
            .ok_or_else(|| Error::NoSection {
                section: section.to_owned(),
            })
    }

    /// The section's options plus DEFAULT's (`options(withDefault=True)`, a set in Python).
    pub fn options_with_default(&self, section: &str) -> Result<Vec<String>> {
        let mut names = self.own_options(section)?;
        for k in self.defaults.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        Ok(names)
    }

    fn section_for(&self, section: &str) -> Result<Option<&Section>> {
        match self.sections.get(section) {
            Some(s) => Ok(Some(s)),
            None if section == DEFAULT_SECTION => Ok(None),
            None => Err(Error::NoSection {
                section: section.to_owned(),
            }),
        }
    }

    /// configparser `get(section, option, raw=True)`.
    pub fn get_raw(&self, section: &str, option: &str) -> Result<String> {
        let option = option.to_lowercase();
        let sec = self.section_for(section)?;
        sec.and_then(|s| s.get(&option))
            .or_else(|| self.defaults.get(&option))
            .cloned()
            .ok_or_else(|| Error::NoOption {
                section: section.to_owned(),
                option,
            })
    }

    /// configparser `get(section, option, vars=vars)` with fail2ban's interpolation.
    pub fn get(&self, section: &str, option: &str, vars: &Vars) -> Result<String> {
        let option = option.to_lowercase();
        let sec = self.section_for(section)?;
        let first: Vars = vars
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        let chain = Chain {
            first,
            section: sec,
            defaults: &self.defaults,
        };
        // A `None` var makes configparser return None; every caller treats that like a missing
        // option (getOptions skips its own vars, getCombOption maps None to "no value").
        let value = match chain.layer(&option) {
            Some((Some(v), _)) => v.to_owned(),
            _ => {
                return Err(Error::NoOption {
                    section: section.to_owned(),
                    option: option.clone(),
                })
            }
        };
        let mut out = String::new();
        self.interpolate(
            Step {
                section,
                option: &option,
                rest: &value,
                depth: 1,
            },
            &chain.first,
            &chain,
            &mut out,
        )?;
        Ok(out)
    }

    /// configparserinc.py `get_ex`: `sec/opt` names read `opt` from section `sec` (`known/opt` from
    /// `KNOWN/<section>` then `<section>`, `default/opt` from DEFAULT) before the plain lookup.
    pub fn get_ex(&self, section: &str, option: &str, vars: &Vars) -> Result<String> {
        if option.contains('/') {
            if let Some((sec, opt)) = section_optname(option) {
                let candidates: Vec<String> = match sec.to_lowercase().as_str() {
                    "known" => vec![format!("KNOWN/{section}"), section.to_owned()],
                    "default" => vec![DEFAULT_SECTION.to_owned()],
                    _ => vec![sec.to_owned()],
                };
                for candidate in candidates {
                    match self.get(&candidate, opt, &Vars::new()) {
                        Ok(v) => return Ok(v),
                        Err(Error::NoSection { .. } | Error::NoOption { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.get(section, option, vars)
    }

    /// One level of configparser's `BasicInterpolation._interpolate_some`, with fail2ban's
    /// `__name__` and `sec/opt` additions applied at every level (as `BasicInterpolationWithName`
    /// does, because it checks the module's `__name__` instead of the string, so it always copies).
    fn interpolate(
        &self,
        step: Step<'_>,
        first: &Vars,
        chain: &Chain<'_>,
        out: &mut String,
    ) -> Result<()> {
        let Step {
            section,
            option,
            rest,
            depth,
        } = step;
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(Error::InterpolationDepth {
                section: section.to_owned(),
                option: option.to_owned(),
                rawval: self.raw_or(section, option, rest),
            });
        }
        let mut first = first.clone();
        first.insert("__name__".to_owned(), Some(section.to_owned()));
        self.map_section_options(section, rest, &mut first, chain);
        let chain = Chain {
            first,
            section: chain.section,
            defaults: chain.defaults,
        };
        let level_rest = rest;
        let mut rest = rest;
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let next = rest[1..].chars().next();
            match next {
                Some('%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    let Some((name, len)) = key_reference(rest) else {
                        return Err(Error::InterpolationSyntax {
                            section: section.to_owned(),
                            option: option.to_owned(),
                            message: format!(
                                "bad interpolation variable reference {}",
                                crate::value::str_repr(rest)
                            ),
                        });
                    };
                    let var = name.to_lowercase();
                    rest = &rest[len..];
                    let Some((v, from_section)) = chain.layer(&var) else {
                        return Err(Error::InterpolationMissingOption {
                            section: section.to_owned(),
                            option: option.to_owned(),
                            rawval: self.raw_or(section, option, level_rest),
                            reference: var,
                        });
                    };
                    // configparser tests `"%" in v`, which fails for None.
                    let Some(v) = v else {
                        return Err(Error::NotIterable {
                            type_name: "NoneType",
                        });
                    };
                    if from_section {
                        // configparser tests `"%" in v`, which fails for a non-string value.
                        if let Some(type_name) = self.typed.get(&(section.to_owned(), var.clone()))
                        {
                            return Err(Error::NotIterable { type_name });
                        }
                    }
                    if v.contains('%') {
                        let v = v.to_owned();
                        let step = Step {
                            section,
                            option,
                            rest: &v,
                            depth: depth + 1,
                        };
                        self.interpolate(step, &chain.first, &chain, out)?;
                    } else {
                        out.push_str(v);
                    }
                }
                _ => {
                    return Err(Error::InterpolationSyntax {
                        section: section.to_owned(),
                        option: option.to_owned(),
                        message: format!(
                            "'%' must be followed by '%' or '(', found: {}",
                            crate::value::str_repr(rest)
                        ),
                    })
                }
            }
        }
        Ok(())
    }

    /// `parser.get(section, option, raw=True, fallback=rest)`, for error messages.
    fn raw_or(&self, section: &str, option: &str, fallback: &str) -> String {
        match self.get_raw(section, option) {
            Ok(v) => v,
            Err(_) => fallback.to_owned(),
        }
    }

    /// configparserinc.py `_map_section_options`: for each `%(sec/opt)s` in `rest` that the map does
    /// not know yet, put the RAW value of `opt` from section `sec` (`known` → `KNOWN/<section>`,
    /// `default` → DEFAULT, falling back to DEFAULT when the section lacks it) into the map.
    fn map_section_options(&self, section: &str, rest: &str, first: &mut Vars, chain: &Chain<'_>) {
        if !rest.contains('/') || !rest.contains("%(") {
            return;
        }
        for (sopt, opt) in section_substs(rest) {
            if first.contains_key(sopt) || chain.contains(sopt) {
                continue;
            }
            let sec = &sopt[..sopt.len() - opt.len() - 1];
            let seclwr = sec.to_lowercase();
            let found = match seclwr.as_str() {
                "default" => None,
                "known" => self
                    .sections
                    .get(&format!("KNOWN/{section}"))
                    .and_then(|s| s.get(opt)),
                _ => match self.sections.get(sec) {
                    Some(s) => s.get(opt),
                    // An unknown section leaves the reference unresolved.
                    None => continue,
                },
            };
            let value = match found.or_else(|| self.defaults.get(opt)) {
                Some(v) => v.clone(),
                None => continue,
            };
            first.insert(sopt.to_owned(), Some(value));
        }
    }

    /// Merges one parsed file into this store (configparserinc.py `read`, the merge loop):
    /// DEFAULT is updated; a conditional section `[S?cond]` renames its keys `k?cond` and merges into
    /// `S`; before a section is updated, the values it is about to lose are saved in `KNOWN/S`.
    pub fn merge_file(&mut self, file: &Store) {
        for (k, v) in &file.defaults {
            self.defaults.insert(k.clone(), v.clone());
        }
        for (name, options) in &file.sections {
            let (name, options): (&str, Section) = match split_conditional(name) {
                Some((base, cond)) => (
                    base,
                    options
                        .iter()
                        .map(|(k, v)| (format!("{k}{cond}"), v.clone()))
                        .collect(),
                ),
                None => (name.as_str(), options.clone()),
            };
            if let Some(existing) = self.sections.get(name) {
                let known: Section = existing
                    .iter()
                    .filter(|(k, _)| options.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.merge_section(&format!("KNOWN/{name}"), &known, "");
                let existing = self.sections.entry(name.to_owned()).or_default();
                for (k, v) in options {
                    existing.insert(k, v);
                }
            } else {
                self.sections.insert(name.to_owned(), options);
            }
        }
    }

    /// configparserinc.py `merge_section`: update (creating) a section; with a prefix, keys get the
    /// prefix unless they already have it.
    pub fn merge_section(&mut self, section: &str, options: &Section, pref: &str) {
        let sec = self.sections.entry(section.to_owned()).or_default();
        for (k, v) in options {
            if pref.is_empty() {
                sec.insert(k.clone(), v.clone());
            } else if !k.starts_with(pref) && k != "__name__" {
                sec.insert(format!("{pref}{k}"), v.clone());
            }
        }
    }

    /// Section names without the hidden `KNOWN/` ones (configreader.py `sections`).
    pub fn visible_sections(&self) -> impl Iterator<Item = &str> {
        self.sections
            .keys()
            .map(String::as_str)
            .filter(|n| !n.starts_with("KNOWN/"))
    }
}

/// Where one interpolation step works.
struct Step<'a> {
    section: &'a str,
    option: &'a str,
    rest: &'a str,
    depth: usize,
}

/// configparser's `_KEYCRE` (`%\(([^)]+)\)s`) at the start of `rest`: the name and the match length.
fn key_reference(rest: &str) -> Option<(&str, usize)> {
    let inner = rest.strip_prefix("%(")?;
    let close = inner.find(')')?;
    if close == 0 || !inner[close + 1..].starts_with('s') {
        return None;
    }
    Some((&inner[..close], close + 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::parse;
    use std::path::Path;

    fn store(text: &str) -> Store {
        parse(Path::new("t"), text).unwrap()
    }

    /// The three hand-written matchers against the regexes they replace, on names made of the characters
    /// those regexes look at.
    #[test]
    fn name_matchers_agree_with_the_regexes() {
        let subst = regex::Regex::new(r"%\(([\w\-]+/([^\)]+))\)s").unwrap();
        let optname = regex::Regex::new(r"^([\w\-]+)/([^\s>]+)$").unwrap();
        let conditional = regex::Regex::new(r"^(\w+)(\?.+)$").unwrap();
        let atoms = [
            "%(",
            "%",
            "(",
            ")",
            ")s",
            "s",
            "/",
            "-",
            "?",
            "a",
            "é",
            "_",
            "1",
            " ",
            "\n",
            "\u{a0}",
            ">",
            "known",
            "%(known/x)s",
            "\u{2003}",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..40_000 {
            let n = (next() % 8) as usize;
            let s: String = (0..n)
                .map(|_| atoms[(next() % atoms.len() as u64) as usize])
                .collect();
            let want: Vec<(&str, &str)> = subst
                .captures_iter(&s)
                .map(|c| (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str()))
                .collect();
            assert_eq!(section_substs(&s), want, "{s:?}");
            let want = optname
                .captures(&s)
                .map(|c| (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str()));
            assert_eq!(section_optname(&s), want, "{s:?}");
            let want = conditional
                .captures(&s)
                .map(|c| (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str()));
            assert_eq!(split_conditional(&s), want, "{s:?}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    #[test]
    fn lookup_order_vars_section_default() {
        let s = store("[DEFAULT]\na = d\nb = %(a)s-b\n[sec]\na = s\nc = %(b)s\n");
        assert_eq!(s.get("sec", "c", &Vars::new()).unwrap(), "s-b");
        assert_eq!(s.get("sec", "c", &vars(&[("A", "v")])).unwrap(), "v-b");
        assert_eq!(s.get("DEFAULT", "b", &Vars::new()).unwrap(), "d-b");
        assert_eq!(s.get("sec", "B", &Vars::new()).unwrap(), "s-b");
    }

    #[test]
    fn name_percent_and_errors() {
        let s =
            store("[sec]\nn = %(__name__)s 100%%\nbad = %(nope)s\nsyn = 5%x\nloop = %(loop)s\n");
        assert_eq!(s.get("sec", "n", &Vars::new()).unwrap(), "sec 100%");
        let e = s.get("sec", "bad", &Vars::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bad value substitution: option 'bad' in section 'sec' contains an interpolation key 'nope' \
             which is not a valid option name. Raw value: '%(nope)s'"
        );
        let e = s.get("sec", "syn", &Vars::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'%' must be followed by '%' or '(', found: '%x'"
        );
        assert!(matches!(
            s.get("sec", "loop", &Vars::new()),
            Err(Error::InterpolationDepth { .. })
        ));
        assert!(matches!(
            s.get("nosec", "x", &Vars::new()),
            Err(Error::NoSection { .. })
        ));
        assert!(matches!(
            s.get("sec", "x", &Vars::new()),
            Err(Error::NoOption { .. })
        ));
    }

    #[test]
    fn section_references_and_known() {
        let mut s = store("[DEFAULT]\nd = def\n[other]\nx = ox\n[sec]\na = first\n");
        s.merge_file(&store("[sec]\na = second-%(known/a)s\nb = %(other/x)s %(other/d)s %(default/d)s\nc = %(missing/x)s\n"));
        assert_eq!(s.sections["KNOWN/sec"]["a"], "first");
        assert_eq!(s.get("sec", "a", &Vars::new()).unwrap(), "second-first");
        assert_eq!(s.get("sec", "b", &Vars::new()).unwrap(), "ox def def");
        assert!(matches!(
            s.get("sec", "c", &Vars::new()),
            Err(Error::InterpolationMissingOption { .. })
        ));
        assert!(!s.visible_sections().any(|n| n.starts_with("KNOWN/")));
    }

    #[test]
    fn none_vars_behave_like_python() {
        let s = store("[sec]\nuse = a %(x)s\nx = from-section\n");
        let mut v = Vars::new();
        v.insert("x".to_owned(), None);
        // configparser: `"%" in None` raises TypeError.
        let e = s.get("sec", "use", &v).unwrap_err();
        assert_eq!(e.to_string(), "argument of type 'NoneType' is not iterable");
        // Reading the None var itself gives no value.
        assert!(matches!(s.get("sec", "x", &v), Err(Error::NoOption { .. })));
    }

    #[test]
    fn conditional_sections_merge_into_base() {
        let mut s = Store::default();
        s.merge_file(&store(
            "[Init]\nblocktype = REJECT\n[Init?family=inet6]\nblocktype = REJECT6\n",
        ));
        let init = &s.sections["Init"];
        assert_eq!(init["blocktype"], "REJECT");
        assert_eq!(init["blocktype?family=inet6"], "REJECT6");
        assert!(s.sections.contains_key("KNOWN/Init"));
    }

    #[test]
    fn get_ex_section_names() {
        let mut s = store("[Definition]\nchain = new\n[lt_file]\np = file-p\n");
        let known: Section = [("chain".to_owned(), "old".to_owned())]
            .into_iter()
            .collect();
        s.merge_section("KNOWN/Definition", &known, "");
        assert_eq!(
            s.get_ex("Definition", "known/chain", &Vars::new()).unwrap(),
            "old"
        );
        assert_eq!(
            s.get_ex("Definition", "lt_file/p", &Vars::new()).unwrap(),
            "file-p"
        );
        assert!(matches!(
            s.get_ex("Definition", "HOST", &Vars::new()),
            Err(Error::NoOption { .. })
        ));
    }
}
