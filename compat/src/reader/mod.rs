//! The readers: configuration names → the client command stream (configurator.py `Configurator`
//! and the `*reader.py` files).

pub mod action;
pub mod common;
pub mod definition;
pub mod fail2ban;
pub mod filter;
pub mod jail;

use std::rc::Rc;

use crate::error::{Diagnostics, Error, Result};
use crate::files::{ConfigFiles, Share};
use crate::reader::common::OptValues;
use crate::reader::jail::{JailContext, JailsReader};
use crate::value::Value;

/// What to read (fail2bancmdline.py `readConfig` arguments).
#[derive(Debug, Clone, Default)]
pub struct StreamRequest {
    /// Only this jail (`reload <jail>`), or all.
    pub jail: Option<String>,
    /// The command line's settings; the ones the general stream knows override fail2ban.conf.
    pub main_opts: OptValues,
    /// Keep going when some jails are wrong (false for `-t`).
    pub ignore_wrong: bool,
    /// Jails without log files are only warned about (true for `-d`).
    pub allow_no_files: bool,
    /// Treat every jail as enabled.
    pub force_enable: bool,
}

/// The outcome of a full read: fail2ban's `(ret, stream)`.
#[derive(Debug, Clone)]
pub struct StreamResult {
    /// Whether fail2ban would call the configuration good.
    pub ok: bool,
    /// The stream, unless reading failed outright.
    pub stream: Option<Vec<Value>>,
    /// Why reading failed outright ("Failed during configuration: ...").
    pub error: Option<Error>,
}

/// Reads one configuration directory (configurator.py `Configurator`).
#[derive(Debug)]
pub struct Configurator {
    basedir: String,
    share: Share,
    fail2ban: Option<Rc<ConfigFiles>>,
}

impl Configurator {
    /// `basedir` as given with `-c` (a trailing `/` is dropped, as configreader.py does).
    pub fn new(basedir: &str) -> Configurator {
        Configurator {
            basedir: basedir.trim_end_matches('/').to_owned(),
            share: Share::new(),
            fail2ban: None,
        }
    }

    pub fn basedir(&self) -> &str {
        &self.basedir
    }

    /// `readEarly`: reads `fail2ban.conf`/`.local` once (kept for later reads).
    pub fn read_early(&mut self, diags: &mut Diagnostics) -> Result<Rc<ConfigFiles>> {
        if let Some(f) = &self.fail2ban {
            return Ok(f.clone());
        }
        let f = self.share.read_config(&self.basedir, "fail2ban", diags)?;
        self.fail2ban = Some(f.clone());
        Ok(f)
    }

    /// `getEarlyOptions`: socket, pidfile, loglevel, logtarget, syslogsocket.
    pub fn early_options(&mut self, diags: &mut Diagnostics) -> Result<OptValues> {
        let f = self.read_early(diags)?;
        fail2ban::early_options(&f.store, diags)
    }

    /// fail2bancmdline.py `readConfig`: the whole stream, or the error that stopped it.
    pub fn read_config(&mut self, req: &StreamRequest, diags: &mut Diagnostics) -> StreamResult {
        match self.read_config_inner(req, diags) {
            Ok((ok, stream)) => StreamResult {
                ok,
                stream: Some(stream),
                error: None,
            },
            Err(e) => {
                diags.error(format!("Failed during configuration: {e}"));
                StreamResult {
                    ok: false,
                    stream: None,
                    error: Some(e),
                }
            }
        }
    }

    fn read_config_inner(
        &mut self,
        req: &StreamRequest,
        diags: &mut Diagnostics,
    ) -> Result<(bool, Vec<Value>)> {
        // configurator.py `Reload` clears the shared cache; the fail2ban reader keeps its own copy.
        self.share = Share::new();
        let fail2ban = self.read_early(diags)?;
        let jails_files = self.share.read_config(&self.basedir, "jail", diags)?;
        let general = fail2ban::general_stream(&fail2ban.store, &req.main_opts, diags)?;
        let mut store = jails_files.store.clone();
        let basedir = self.basedir.clone();
        let mut ctx = JailContext {
            share: &mut self.share,
            basedir: &basedir,
            store: &mut store,
            diags,
            force_enable: req.force_enable,
        };
        let (mut jails, status) = JailsReader::get_options(req.jail.as_deref(), &mut ctx)?;
        let mut stream = general;
        stream.extend(jails.convert(req.allow_no_files, diags)?);
        Ok((status.ok(req.ignore_wrong), stream))
    }
}
