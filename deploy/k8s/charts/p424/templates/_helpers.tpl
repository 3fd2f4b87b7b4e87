{{/* Labels every object of this chart carries. */}}
{{- define "p424.labels" -}}
app.kubernetes.io/part-of: p424
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
p424.dev/catalog-version: {{ .Values.catalog.version | quote }}
p424.dev/catalog-hash: {{ .Values.catalog.hash | quote }}
{{- end }}

{{/* The container image of the platform's own processes. */}}
{{- define "p424.image" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end }}

{{/* Pod-level security: the platform image's unprivileged user (compose/images/platform/Dockerfile). */}}
{{- define "p424.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.securityContext.runAsUser }}
  runAsGroup: {{ .Values.securityContext.runAsGroup }}
  fsGroup: {{ .Values.securityContext.fsGroup }}
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{- define "p424.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end }}

{{/* The platform's settings (ConfigMap) and the state dir; secrets are added per container. */}}
{{- define "p424.settings" -}}
envFrom:
  - configMapRef:
      name: p424-settings
{{- end }}

{{/* SASL/SCRAM login of a Kafka user: its name, and its password from the Secret Strimzi generates. */}}
{{- define "p424.kafkaEnv" -}}
- name: KAFKA_SASL_USERNAME
  value: {{ .user | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .passwordSecret }}
      key: password
{{- end }}

{{/* Bearer tokens: one for the HTTP endpoints beyond /health, one Prometheus sends to /metrics. */}}
{{- define "p424.tokenEnv" -}}
- name: P424_HTTP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.httpToken }}
      key: token
- name: P424_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.metricsToken }}
      key: token
{{- end }}

{{/* Liveness and readiness on /health, which every service of ours answers without a token. */}}
{{- define "p424.probes" -}}
livenessProbe:
  httpGet:
    path: /health
    port: http
  initialDelaySeconds: 20
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 4
readinessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}

{{/* Writable scratch space on a read-only root filesystem. */}}
{{- define "p424.tmpVolume" -}}
- name: tmp
  emptyDir: {}
{{- end }}

{{/* KAFKA_TLS=on: Strimzi's cluster CA certificate (its Secret, key ca.crt), where KAFKA_TLS_CA_FILE points. */}}
{{- define "p424.kafkaCaMount" -}}
{{- if eq (toString .Values.settings.KAFKA_TLS) "on" }}
- {name: kafka-ca, mountPath: {{ dir .Values.settings.KAFKA_TLS_CA_FILE }}, readOnly: true}
{{- end }}
{{- end }}

{{- define "p424.kafkaCaVolume" -}}
{{- if eq (toString .Values.settings.KAFKA_TLS) "on" }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.secrets.kafkaCa }}
    items:
      - {key: ca.crt, path: {{ base .Values.settings.KAFKA_TLS_CA_FILE }}}
{{- end }}
{{- end }}
