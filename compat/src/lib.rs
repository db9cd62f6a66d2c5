//! fail2ban's configuration dialect (being written).
