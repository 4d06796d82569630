#!/usr/bin/env bash
# ocean host set-up: makes a fresh Debian 12 host an Ocean host. Run as root. cloud-init runs it
# on the new server's first boot; the local lab runs the same script in its "new host" container.
# Idempotent: every step looks before it changes anything, so running it again is safe.
#
# Usage: host-setup.sh [--env-file FILE] [--help]
#
# Parameters, as environment variables (or KEY=VALUE lines in --env-file; the environment wins):
#   OCEAN_DEPLOY_USER    user the runbooks log in as: created if missing, put in sudo and docker (ocean)
#   OCEAN_DATA_DIR       where the data volume is mounted (/data)
#   OCEAN_VOLUME_ID      Hetzner volume id; its device is /dev/disk/by-id/scsi-0HC_Volume_<id> (none)
#   OCEAN_VOLUME_DEVICE  the data volume's block device; overrides OCEAN_VOLUME_ID (none)
#   OCEAN_VOLUME_WAIT    seconds to wait for the volume device to appear after attachment (300)
#   OCEAN_SWAP_MB        size of /swapfile in MB, created once; 0 = no swap file (2048)
#   OCEAN_FLOATING_IP    floating IPv4 to configure, persistently, on the primary interface (none)
#   OCEAN_SETUP_SKIP     comma list of steps a container cannot do: sysctl-apply, swap, volume,
#                        floating-ip. Service start/restart is skipped by itself without systemd.
#   OCEAN_SETUP_ONLY     comma list of the steps to run, all others left alone (all): packages,
#                        sshd, deploy-user, docker, unattended-upgrades, fail2ban, sysctl, swap,
#                        floating-ip, volume. `ocean-ops cutover --prepare` runs floating-ip alone
#                        on the old server.
set -euo pipefail

log() { printf '[ocean-host-setup] %s\n' "$*"; }
die() { printf '[ocean-host-setup] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

env_file=
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) [ $# -ge 2 ] || die "--env-file needs a file"; env_file=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

# The env file is data, not code: only OCEAN_* keys are taken, values literally (never sourced).
if [ -n "$env_file" ]; then
  [ -r "$env_file" ] || die "cannot read env file $env_file"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}; value=${line#*=}
    [[ "$key" =~ ^OCEAN_[A-Z_]+$ ]] || die "bad line in $env_file: $line"
    if [ -z "${!key+set}" ]; then export "$key=$value"; fi
  done <"$env_file"
fi

DEPLOY_USER=${OCEAN_DEPLOY_USER:-ocean}
DATA_DIR=${OCEAN_DATA_DIR:-/data}
SWAP_MB=${OCEAN_SWAP_MB:-2048}
VOLUME_WAIT=${OCEAN_VOLUME_WAIT:-300}
FLOATING_IP=${OCEAN_FLOATING_IP:-}
VOLUME_DEVICE=${OCEAN_VOLUME_DEVICE:-}
if [ -z "$VOLUME_DEVICE" ] && [ -n "${OCEAN_VOLUME_ID:-}" ]; then
  [[ "$OCEAN_VOLUME_ID" =~ ^[0-9]+$ ]] || die "OCEAN_VOLUME_ID must be numeric"
  VOLUME_DEVICE=/dev/disk/by-id/scsi-0HC_Volume_${OCEAN_VOLUME_ID}
fi
if ! [[ "$DEPLOY_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || [ "$DEPLOY_USER" = root ]; then die "bad OCEAN_DEPLOY_USER: $DEPLOY_USER"; fi
[[ "$SWAP_MB" =~ ^[0-9]+$ ]] || die "OCEAN_SWAP_MB must be a number of MB"
[[ "$VOLUME_WAIT" =~ ^[0-9]+$ ]] || die "OCEAN_VOLUME_WAIT must be a number of seconds"
[[ "$DATA_DIR" == /* ]] || die "OCEAN_DATA_DIR must be an absolute path"
[ -z "$FLOATING_IP" ] || [[ "$FLOATING_IP" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "OCEAN_FLOATING_IP must be an IPv4 address"

skipped() { [[ ",${OCEAN_SETUP_SKIP:-}," == *",$1,"* ]]; }
only() { [ -z "${OCEAN_SETUP_ONLY:-}" ] || [[ ",${OCEAN_SETUP_ONLY}," == *",$1,"* ]]; }
has_systemd() { [ -d /run/systemd/system ]; }

# write_file PATH MODE < content: replaces PATH atomically if the content differs.
# Returns 0 when it changed the file, 1 when the file was already right.
write_file() {
  local path=$1 mode=$2 tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; return 1; fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  log "wrote $path"
}

step_packages() {
  local want=(docker.io apparmor ca-certificates unattended-upgrades fail2ban python3-systemd nftables sudo e2fsprogs iproute2)
  local missing=() p
  for p in "${want[@]}"; do
    # shellcheck disable=SC2016 # ${Status} is dpkg-query's format, not a shell variable
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages: all present"; return; fi
  log "packages: installing ${missing[*]}"
  # On first boot apt's daily timers may hold the lock: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
}

step_sshd() {
  [ -f /etc/ssh/sshd_config ] || { log "sshd: not installed, skipped"; return; }
  local conf=/etc/ssh/sshd_config.d/00-ocean-hardening.conf backup=
  # sshd takes the first value it reads, and Debian includes sshd_config.d/*.conf at the top,
  # so this drop-in wins over cloud-init's or the image's own settings.
  if ! grep -qE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config; then
    sed -i '1i Include /etc/ssh/sshd_config.d/*.conf' /etc/ssh/sshd_config
  fi
  [ -f "$conf" ] && { backup=$(mktemp); cp -p "$conf" "$backup"; }
  if {
    echo '# Managed by ocean host-setup.sh.'
    printf '%s\n' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'PermitRootLogin no' \
      'PermitEmptyPasswords no' 'X11Forwarding no'
    # Offer only the host key the known_hosts output pins, so no client negotiates another one.
    [ ! -f /etc/ssh/ssh_host_ed25519_key ] || echo 'HostKey /etc/ssh/ssh_host_ed25519_key'
  } | write_file "$conf" 644; then
    mkdir -p /run/sshd
    if ! sshd -t; then
      if [ -n "$backup" ]; then mv -f "$backup" "$conf"; else rm -f "$conf"; fi
      die "sshd rejected the hardened config; restored the previous one"
    fi
    if has_systemd; then systemctl reload ssh || systemctl restart ssh
    elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"
    fi
  fi
  [ -z "$backup" ] || rm -f "$backup"
  log "sshd: passwords and root login off"
}

step_deploy_user() {
  local u=$DEPLOY_USER g
  # cloud-init normally creates the user with its keys; the lab has no cloud-init.
  id "$u" >/dev/null 2>&1 || { useradd --create-home --shell /bin/bash "$u"; log "created user $u"; }
  passwd -l "$u" >/dev/null  # key login only
  for g in sudo docker; do
    if getent group "$g" >/dev/null && ! id -nG "$u" | tr ' ' '\n' | grep -qx "$g"; then usermod -aG "$g" "$u"; fi
  done
  if printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$u" | write_file "/etc/sudoers.d/90-ocean-$u" 440; then
    visudo -cqf "/etc/sudoers.d/90-ocean-$u" || { rm -f "/etc/sudoers.d/90-ocean-$u"; die "sudoers entry rejected"; }
  fi
  log "deploy user: $u (sudo, docker)"
}

step_docker() {
  # Rotate container logs (json-file has no limit by default and fills the disk), and keep
  # containers running while unattended-upgrades restarts dockerd.
  local changed=0
  write_file /etc/docker/daemon.json 644 <<'JSON' && changed=1
{
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "5" },
  "live-restore": true
}
JSON
  if has_systemd; then
    systemctl enable --now docker
    [ "$changed" -eq 0 ] || systemctl restart docker
  fi
  log "docker: log rotation 10m x 5"
}

step_unattended_upgrades() {
  write_file /etc/apt/apt.conf.d/20auto-upgrades 644 <<'APT' || true
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
APT::Periodic::AutocleanInterval "7";
APT
  # Security updates only, and never an unplanned reboot of the production host.
  write_file /etc/apt/apt.conf.d/52ocean-unattended-upgrades 644 <<'APT' || true
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
  "origin=Debian,codename=${distro_codename},label=Debian-Security";
  "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Automatic-Reboot "false";
APT
  apt-config dump >/dev/null || die "apt rejected the unattended-upgrades config"
  if has_systemd; then systemctl enable --now unattended-upgrades; fi
  log "unattended-upgrades: security updates daily"
}

step_fail2ban() {
  # Debian 12 logs sshd to the journal only, so the sshd jail must read the journal.
  if write_file /etc/fail2ban/jail.d/ocean.local 644 <<'INI'; then
[DEFAULT]
banaction = nftables-multiport
banaction_allports = nftables-allports
bantime = 1h
findtime = 10m
maxretry = 5

[sshd]
enabled = true
backend = systemd
INI
    if has_systemd; then systemctl restart fail2ban; fi
  fi
  if has_systemd; then systemctl enable --now fail2ban; fi
  log "fail2ban: sshd jail on"
}

step_sysctl() {
  # Redis: background saves fork, which fails under overcommit heuristics; a longer accept queue.
  write_file /etc/sysctl.d/60-ocean.conf 644 <<'CONF' || true
vm.overcommit_memory = 1
net.core.somaxconn = 1024
vm.swappiness = 10
CONF
  if skipped sysctl-apply; then log "sysctl: written, not applied (skipped)"; return; fi
  sysctl -q -p /etc/sysctl.d/60-ocean.conf
  log "sysctl: applied"
}

step_swap() {
  local file=/swapfile
  if [ "$SWAP_MB" -eq 0 ]; then log "swap: none wanted"; return; fi
  if skipped swap; then log "swap: skipped"; return; fi
  if [ ! -f "$file" ]; then
    # Build it under another name so an interrupted run never leaves a half-made /swapfile.
    rm -f "$file.new"
    (umask 077; fallocate -l "${SWAP_MB}M" "$file.new" 2>/dev/null || dd if=/dev/zero of="$file.new" bs=1M count="$SWAP_MB" status=none)
    mkswap "$file.new" >/dev/null
    mv "$file.new" "$file"
  fi
  grep -qE "^${file}[[:space:]]" /etc/fstab || echo "$file none swap sw 0 0" >>/etc/fstab
  swapon --show=NAME --noheadings | grep -qx "$file" || swapon "$file"
  log "swap: $file active"
}

step_floating_ip() {
  if [ -z "$FLOATING_IP" ]; then log "floating IP: none given"; return; fi
  if skipped floating-ip; then log "floating IP: skipped"; return; fi
  local dev ip=$FLOATING_IP
  dev=$(ip -o -4 route show default | awk '{print $5; exit}')
  [ -n "$dev" ] || die "floating IP: no default route, cannot tell the primary interface"
  # Hetzner routes the floating IP to this server only; the OS must also own the address.
  if [ -d /etc/netplan ] && command -v netplan >/dev/null; then
    printf 'network:\n  version: 2\n  ethernets:\n    %s:\n      addresses:\n        - %s/32\n' "$dev" "$ip" \
      | write_file /etc/netplan/60-ocean-floating-ip.yaml 600 || true
  elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null; then
    grep -qE '^[[:space:]]*source(-directory)?[[:space:]]+/etc/network/interfaces\.d' /etc/network/interfaces \
      || echo 'source /etc/network/interfaces.d/*' >>/etc/network/interfaces
    printf 'auto %s:1\niface %s:1 inet static\n    address %s\n    netmask 32\n' "$dev" "$dev" "$ip" \
      | write_file /etc/network/interfaces.d/60-ocean-floating-ip 644 || true
  elif has_systemd; then
    printf '[Unit]\nDescription=Ocean floating IP\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/sbin/ip addr replace %s/32 dev %s\n\n[Install]\nWantedBy=multi-user.target\n' "$ip" "$dev" \
      | write_file /etc/systemd/system/ocean-floating-ip.service 644 || true
    systemctl daemon-reload
    systemctl enable ocean-floating-ip.service
  else
    log "floating IP: no network configuration system found; configured for this boot only"
  fi
  ip -o -4 addr show dev "$dev" | grep -qF " $ip/32 " || ip addr add "$ip/32" dev "$dev"
  log "floating IP: $ip on $dev"
}

step_volume() {
  mkdir -p "$DATA_DIR"
  if [ -z "$VOLUME_DEVICE" ]; then log "volume: none given; $DATA_DIR stays on the root disk"; return; fi
  if skipped volume; then log "volume: skipped"; return; fi
  local waited=0 fstype
  # Pulumi attaches the volume after the server exists, so it may show up after boot.
  while [ ! -b "$VOLUME_DEVICE" ] && [ "$waited" -lt "$VOLUME_WAIT" ]; do sleep 2; waited=$((waited + 2)); done
  # Never let the service write to the root disk under a mount point the volume will hide later.
  [ -b "$VOLUME_DEVICE" ] || die "volume: $VOLUME_DEVICE did not appear within ${VOLUME_WAIT}s; attach it and run this script again"
  fstype=$(blkid -p -s TYPE -o value "$VOLUME_DEVICE" 2>/dev/null || true)
  if [ -z "$fstype" ]; then
    # Only a device with no signature at all is formatted: never an existing file system.
    mkfs.ext4 -q -L ocean-data "$VOLUME_DEVICE"
    fstype=ext4
  fi
  if ! awk -v d="$DATA_DIR" '$1 !~ /^#/ && $2 == d { found = 1 } END { exit !found }' /etc/fstab; then
    echo "$VOLUME_DEVICE $DATA_DIR $fstype discard,nofail,defaults 0 2" >>/etc/fstab
    if has_systemd; then systemctl daemon-reload; fi
  fi
  mountpoint -q "$DATA_DIR" || mount "$DATA_DIR"
  log "volume: $VOLUME_DEVICE on $DATA_DIR ($fstype)"
}

[ "$(id -u)" -eq 0 ] || die "run as root"
# Security first: if a later step fails (say the volume never appears), the host is still locked down.
only packages && step_packages
only sshd && step_sshd
only deploy-user && step_deploy_user
only docker && step_docker
only unattended-upgrades && step_unattended_upgrades
only fail2ban && step_fail2ban
only sysctl && step_sysctl
only swap && step_swap
only floating-ip && step_floating_ip
only volume && step_volume
if [ -z "${OCEAN_SETUP_ONLY:-}" ]; then
  mkdir -p /var/lib/ocean
  date -u +%Y-%m-%dT%H:%M:%SZ >/var/lib/ocean/host-setup.done
fi
log "done"
