{{/* Names and labels, the usual way (helm create). */}}
{{- define "ndo-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ndo-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ndo-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "ndo-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ndo-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ndo-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ndo-exporter.labels" -}}
helm.sh/chart: {{ include "ndo-exporter.chart" . }}
{{ include "ndo-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ndo-exporter
{{- end }}

{{- define "ndo-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ndo-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ndo-exporter.configSecretName" -}}
{{- default (printf "%s-config" (include "ndo-exporter.fullname" .)) .Values.configExistingSecretName }}
{{- end }}

{{- define "ndo-exporter.sharded" -}}
{{- if gt (int .Values.sharding.shards) 1 }}true{{ end }}
{{- end }}

{{- define "ndo-exporter.tls" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls.enabled }}true{{ end }}
{{- end }}

{{- define "ndo-exporter.scheme" -}}
{{- if include "ndo-exporter.tls" . }}https{{ else }}http{{ end }}
{{- end }}

{{/* The web config file the chart renders (exporter-toolkit format). */}}
{{- define "ndo-exporter.webConfig" -}}
{{- $w := .Values.webConfig }}
{{- if $w.tls.enabled }}
tls_server_config:
  cert_file: {{ include "ndo-exporter.configDir" . }}/tls/tls.crt
  key_file: {{ include "ndo-exporter.configDir" . }}/tls/tls.key
  min_version: {{ $w.tls.minVersion }}
  {{- with $w.tls.clientAuthType }}
  client_auth_type: {{ . }}
  {{- end }}
  {{- if $w.tls.clientCASecret }}
  client_ca_file: {{ include "ndo-exporter.configDir" . }}/client-ca/ca.crt
  {{- end }}
{{- end }}
{{- with $w.headers }}
http_server_config:
  headers:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- with $w.basicAuthUsers }}
basic_auth_users:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* One probe: httpGet on PATH, or tcpSocket when basic auth would answer 401. */}}
{{- define "ndo-exporter.probe" -}}
{{- $ctx := index . 0 }}{{- $path := index . 1 }}{{- $settings := index . 2 }}
{{- if and $ctx.Values.webConfig.enabled $ctx.Values.webConfig.basicAuthUsers }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: {{ $path }}
  port: http
  scheme: {{ include "ndo-exporter.scheme" $ctx | upper }}
{{- end }}
{{- toYaml $settings | nindent 0 }}
{{- end }}
