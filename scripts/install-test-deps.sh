#!/usr/bin/env bash
# install-test-deps.sh — install what the integration tests' real mail servers need.
#
# Usage (as root, Debian 12):   scripts/install-test-deps.sh
#
# Idempotent. Installs, from Debian's packages: postfix (with the debconf answer
# "No configuration", so no system instance is configured), dovecot-core,
# dovecot-lmtpd, swaks (+ its TLS modules), openssl, python3-venv; then
#   * a system user `smtptest` (no login, no home): the unprivileged uid/gid that
#     Dovecot delivers maildir mail as, that Postfix's pipe(8) spool delivery
#     runs as, and that smtp-sink drops to;
#   * a Python venv with aiosmtpd from PyPI at $SMTP_TEST_VENV
#     (default /opt/smtpt-venv; scripts/test-servers.sh reads the same variable);
#   * Exim 4 (for PRDR), NOT installed as a package: Debian's exim4-daemon-light
#     conflicts with postfix (both are "the" mail transport agent), so its .deb
#     and exim4-base's are fetched with `apt-get download` and unpacked with
#     `dpkg-deb -x` into $SMTP_TEST_EXIM_DIR (default /opt/smtpt-exim; the binary is
#     $SMTP_TEST_EXIM_DIR/usr/sbin/exim4, its set-uid bit removed: it only ever
#     runs as root from scripts/test-servers.sh). dpkg does not know about it;
#     `rm -rf /opt/smtpt-exim` removes it. Exim's shared libraries
#     (libidn12, libgnutls-dane0, ...) are installed as ordinary packages, and
#     a system user `Debian-exim` (the user name compiled into Debian's exim)
#     is created. exim4-base only adds the utilities and the reference manual
#     ($SMTP_TEST_EXIM_DIR/usr/share/doc/exim4-base/spec.txt.gz).
#
# No system service is left running: while apt runs, a policy-rc.d that forbids
# every start is in place (only if none existed; ours is removed afterwards).
# The system postfix/dovecot are never configured or started by this script;
# scripts/test-servers.sh runs private instances.
#
# Fast path: when every binary, the venv's aiosmtpd and the unpacked Exim are
# already there, apt is not touched at all (about a second).
set -euo pipefail

VENV="${SMTP_TEST_VENV:-/opt/smtpt-venv}"
MAIL_USER=smtptest
AIOSMTPD_SPEC='aiosmtpd>=1.4.4,<2'
EXIM_DIR="${SMTP_TEST_EXIM_DIR:-/opt/smtpt-exim}"
EXIM_USER=Debian-exim
# exim4-daemon-light's run-time libraries (its Depends: minus debconf and exim4-base)
# plus libevent, which this build needs too.
EXIM_LIBS="libidn12 libidn2-0 libgnutls-dane0 libgnutls30 libevent-2.1-7 libnsl2 libdb5.3 libpcre2-8-0 libcrypt1"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

have_all_packages() {
    local f
    for f in /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/smtp-sink /usr/lib/postfix/sbin/pipe \
             /usr/sbin/dovecot /usr/bin/doveadm /usr/lib/dovecot/lmtp \
             /usr/lib/dovecot/modules/lib10_quota_plugin.so \
             /usr/bin/swaks /usr/bin/openssl; do
        [ -e "$f" ] || { log "missing $f"; return 1; }
    done
    # swaks needs these Perl modules for --tls
    perl -MIO::Socket::SSL -MNet::SSLeay -e1 2>/dev/null || { log "missing swaks TLS modules"; return 1; }
    /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || { log "missing python3-venv"; return 1; }
    # native-tls (the adapters' TLS) links OpenSSL through pkg-config.
    dpkg -s libssl-dev pkg-config >/dev/null 2>&1 || { log "missing libssl-dev/pkg-config"; return 1; }
    # shellcheck disable=SC2086
    dpkg -s $EXIM_LIBS >/dev/null 2>&1 || { log "missing Exim's libraries"; return 1; }
    return 0
}

if have_all_packages; then
    log "Debian packages already installed; skipping apt"
else
    export DEBIAN_FRONTEND=noninteractive
    POLICY=/usr/sbin/policy-rc.d
    OUR_POLICY=0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# temporary, created by install-test-deps.sh: no service starts during install\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        OUR_POLICY=1
        trap 'if [ "$OUR_POLICY" = 1 ]; then rm -f "$POLICY"; fi' EXIT
    fi
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
    log "apt-get install"
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
        postfix dovecot-core dovecot-lmtpd swaks libio-socket-ssl-perl libnet-ssleay-perl \
        openssl python3-venv ca-certificates libssl-dev pkg-config $EXIM_LIBS >/dev/null
    if [ "$OUR_POLICY" = 1 ]; then rm -f "$POLICY"; OUR_POLICY=0; fi
    have_all_packages || die "packages still missing after apt-get install"
fi

# Report (never kill) a system instance that something else started.
if [ -s /var/spool/postfix/pid/master.pid ] && kill -0 "$(tr -dc 0-9 </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
    log "note: a system Postfix instance is running (not started by this script; left alone)"
fi
if [ -s /run/dovecot/master.pid ] && kill -0 "$(tr -dc 0-9 </run/dovecot/master.pid)" 2>/dev/null; then
    log "note: a system Dovecot instance is running (not started by this script; left alone)"
fi

if ! id -u "$MAIL_USER" >/dev/null 2>&1; then
    log "creating system user $MAIL_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$MAIL_USER"
fi

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    log "venv $VENV already has aiosmtpd $("$VENV/bin/python" -c 'import aiosmtpd; print(aiosmtpd.__version__)')"
else
    log "creating venv $VENV with $AIOSMTPD_SPEC"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$AIOSMTPD_SPEC"
    "$VENV/bin/python" -c 'import aiosmtpd' || die "aiosmtpd not importable from $VENV"
fi

# ---- Exim, unpacked (never installed: it would replace postfix)
exim_ok() {
    [ -x "$EXIM_DIR/usr/sbin/exim4" ] && [ -s "$EXIM_DIR/.smtpt-version" ] || return 1
    ! ldd "$EXIM_DIR/usr/sbin/exim4" 2>/dev/null | grep -q 'not found'
}
if exim_ok; then
    log "Exim $(cat "$EXIM_DIR/.smtpt-version") already unpacked in $EXIM_DIR"
else
    log "downloading exim4-daemon-light and exim4-base into $EXIM_DIR"
    dl=$(mktemp -d /tmp/smtpt-exim-dl.XXXXXX)
    trap 'rm -rf "$dl"' EXIT
    fetch_debs() {
        (cd "$dl" && apt-get -q -o APT::Sandbox::User=root download exim4-daemon-light exim4-base >/dev/null)
    }
    if ! fetch_debs; then
        log "apt-get update (for apt-get download)"
        apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
        fetch_debs || die "apt-get download exim4-daemon-light exim4-base failed"
    fi
    rm -rf "$EXIM_DIR.tmp"
    mkdir -p "$EXIM_DIR.tmp"
    for deb in "$dl"/*.deb; do
        dpkg-deb -x "$deb" "$EXIM_DIR.tmp"
    done
    # Only root runs it (scripts/test-servers.sh): no set-uid root binary left lying around.
    chmod u-s,g-s "$EXIM_DIR.tmp/usr/sbin/exim4"
    dpkg-deb -f "$(ls "$dl"/exim4-daemon-light_*.deb)" Version >"$EXIM_DIR.tmp/.smtpt-version"
    rm -rf "$EXIM_DIR"
    mv "$EXIM_DIR.tmp" "$EXIM_DIR"
    rm -rf "$dl"
    if ldd "$EXIM_DIR/usr/sbin/exim4" | grep 'not found' >&2; then
        die "$EXIM_DIR/usr/sbin/exim4 lacks shared libraries (see above)"
    fi
    log "Exim $(cat "$EXIM_DIR/.smtpt-version") unpacked"
fi
if ! id -u "$EXIM_USER" >/dev/null 2>&1; then
    log "creating system user $EXIM_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$EXIM_USER"
fi

log "done"
