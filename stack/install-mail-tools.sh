#!/usr/bin/env bash
# Installs what the deliverability tests run for real, from Debian's packages, when missing: Postfix (a site's
# outbound relay, and smtp-sink for the benchmark), SpamAssassin (how a receiver scores our mail) and dnsmasq (a
# private DNS serving the DKIM records to SpamAssassin). Nothing is started or configured system-wide: the tests run
# their own instances in temporary folders.
set -euo pipefail
missing=""
[ -x /usr/sbin/postfix ] || missing="$missing postfix"
[ -x /usr/bin/spamassassin ] || missing="$missing spamassassin"
[ -x /usr/sbin/dnsmasq ] || missing="$missing dnsmasq-base"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-mail-tools: run as root (apt-get install$missing)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # A relay that delivers nothing by itself: the tests give their instances their own configuration.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq >&2
  apt-get install -y -qq $missing >/dev/null
fi
