#!/usr/bin/env bash
# Starts machine m2 (a replica machine) of ftchat in the foreground: its primary forks the
# workers, and guardians revive the primary if it dies. Under systemd use
# systemd/ftchat@.service (Restart=always) so even "every process killed" comes back.
# Extra arguments (e.g. --config /etc/ftchat/cluster.json) are passed through.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/fbs start --machine m2 "$@"
