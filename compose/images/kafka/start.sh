#!/usr/bin/env bash
# Kafka in compose mode (entrypoint of the kafka service): with auth on, write the broker's JAAS
# logins and the health probe's client settings from the auth env file (compose-auth/kafka.env,
# written by launcher/compose_auth.py), and format empty storage with every SCRAM user (KIP-900,
# as native mode does); then run the image's own entrypoint, whose format finds the storage done.
set -euo pipefail
dir=/tmp/p424-kafka
mkdir -p "$dir"
chmod 700 "$dir"
printf '%b\n' "${P424_KAFKA_CLIENT:-}" > "$dir/client.properties"
# KAFKA_TLS=on: the broker's key and certificate chain (ssl.keystore.location), private to the broker.
if [[ -n "${P424_KAFKA_TLS_KEYSTORE:-}" ]]; then
  (umask 077 && printf '%b' "$P424_KAFKA_TLS_KEYSTORE" > "$dir/kafka.pem")
fi
if [[ -n "${P424_KAFKA_JAAS:-}" ]]; then
  printf '%s\n' "$P424_KAFKA_JAAS" > "$dir/jaas.conf"
  if [[ ! -e "${KAFKA_LOG_DIRS}/meta.properties" ]]; then
    # Only what formatting reads (node, quorum, listeners, log dir); the image writes the full configuration.
    # Formatting opens no listener: plain protocols spare it the logins and the TLS files.
    protocols=${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP//SASL_PLAINTEXT/PLAINTEXT}
    protocols=${protocols//SASL_SSL/PLAINTEXT}
    cat > "$dir/format.properties" <<PROPERTIES
process.roles=${KAFKA_PROCESS_ROLES}
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}
controller.listener.names=${KAFKA_CONTROLLER_LISTENER_NAMES}
listeners=${KAFKA_LISTENERS}
inter.broker.listener.name=${KAFKA_INTER_BROKER_LISTENER_NAME}
listener.security.protocol.map=${protocols}
log.dirs=${KAFKA_LOG_DIRS}
PROPERTIES
    scram=()
    for user in ${P424_KAFKA_ADD_SCRAM}; do
      scram+=(--add-scram "$user")
    done
    # The tool's output names no password; keep it out of the log all the same.
    /opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" -c "$dir/format.properties" "${scram[@]}" \
      > "$dir/format.log" 2>&1 || { sed -E 's/password=[^],]*/password=***/g' "$dir/format.log"; exit 1; }
    echo "formatted ${KAFKA_LOG_DIRS} with $(( ${#scram[@]} / 2 )) SCRAM users"
  fi
fi
exec /etc/kafka/docker/run
