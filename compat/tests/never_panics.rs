//! Property tests: the INI parser, interpolation, `<tag>` substitution, option syntax and time values
//! never panic, whatever the input (errors are fine; panics and hangs are not).

use std::path::Path;

use compat::ini::parse;
use compat::store::Vars;
use compat::tags::{substitute_recursive_tags, Substitution};
use indexmap::IndexMap;
use proptest::prelude::*;

/// Lines that look like fail2ban configuration: headers, options with references, continuations,
/// comments, junk.
fn config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\[[A-Za-z?=/ ]{0,8}\\]",
        "[A-Za-z_]{1,4} ?[=:] ?[a-z%()<>/ ;#s]{0,16}",
        "[a-z]{1,3} = %\\([a-z/_]{1,8}\\)s",
        "[a-z]{1,3} = <[a-z/_?=]{1,8}>",
        "[ \t]{1,3}[a-z<>%()s]{0,10}",
        "[#;].{0,10}",
        ".{0,12}",
        Just(String::new()),
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec(config_line(), 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parser_and_interpolation_never_panic(text in config_text(), raw in ".{0,200}") {
        let _ = parse(Path::new("fuzz.conf"), &raw);
        if let Ok(store) = parse(Path::new("fuzz.conf"), &text) {
            let sections: Vec<String> = store.sections.keys().cloned().collect();
            for section in sections.iter().map(String::as_str).chain(["DEFAULT", "missing"]) {
                let names = store.options_with_default(section).unwrap_or_default();
                for name in names {
                    let _ = store.get(section, &name, &Vars::new());
                    let _ = store.get_ex(section, &format!("known/{name}"), &Vars::new());
                }
            }
            let mut merged = store.clone();
            merged.merge_file(&store);
        }
    }

    #[test]
    fn tag_substitution_never_panics(
        pairs in prop::collection::vec(("[a-c?=]{1,3}", "[a-c<>? x]{0,12}"), 0..8),
        conditional in prop_oneof![Just(String::new()), Just("f=6".to_owned())],
    ) {
        let map: IndexMap<String, String> = pairs.into_iter().collect();
        let ignore = Default::default();
        let mut extra = |t: &str| Ok((t.len() == 2).then(|| format!("[{t}]")));
        let sub = Substitution { conditional: &conditional, ignore: &ignore, addrepl: Some(&mut extra) };
        let _ = substitute_recursive_tags(&map, sub);
    }

    #[test]
    fn filter_and_action_readers_never_panic(
        filter_text in config_text(),
        action_text in config_text(),
        init in prop::collection::vec(("[a-z]{1,3}", "[a-z<>%()s ]{0,8}"), 0..3),
        backend in prop_oneof![Just("auto"), Just("systemd")],
    ) {
        let dir = std::env::temp_dir().join(format!("f2b-compat-prop-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("filter.d")).unwrap();
        std::fs::create_dir_all(dir.join("action.d")).unwrap();
        std::fs::write(dir.join("filter.d/p.conf"), &filter_text).unwrap();
        std::fs::write(dir.join("action.d/p.conf"), &action_text).unwrap();
        let base = dir.to_string_lossy().into_owned();
        let opts: compat::options::Options = init.into_iter().collect();
        let mut share = compat::files::Share::new();
        let mut diags = compat::Diagnostics::default();
        if let Ok(Some(mut f)) = compat::reader::filter::FilterReader::read(&mut share, &base, "p", "j", opts.clone(), &mut diags) {
            f.apply_auto_options(backend);
            let _ = f.get_options(None, true, &mut diags).and_then(|()| f.convert(&mut diags));
        }
        if let Ok(Some(mut a)) = compat::reader::action::ActionReader::read(&mut share, &base, "p", "j", opts, &mut diags) {
            let _ = a.get_options(&Default::default(), &mut diags).and_then(|()| a.convert(&mut diags));
        }
    }

    #[test]
    fn option_syntax_and_times_never_panic(s in ".{0,80}", t in "[0-9a-z .+*/()%_-]{0,20}") {
        let _ = compat::options::extract_options(&s);
        let _ = compat::options::split_with_options(&s);
        let _ = compat::time::str2seconds(&s);
        let _ = compat::time::str2seconds(&t);
    }
}
