{{/* The chart's name, or nameOverride. */}}
{{- define "actions-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name: fullnameOverride, else the release name if it holds the
chart's name, else release-chart. 54 characters leave room for "-headless".
*/}}
{{- define "actions-authz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := include "actions-authz.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels that select this release's pods; they never change. */}}
{{- define "actions-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "actions-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "actions-authz.labels" -}}
{{ include "actions-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The image: repository@digest, or repository:tag. */}}
{{- define "actions-authz.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Where the configuration and the TLS files are mounted. */}}
{{- define "actions-authz.configDir" -}}/etc/actions-authz/config{{- end }}
{{- define "actions-authz.tlsDir" -}}/etc/actions-authz/tls{{- end }}

{{/*
The configuration file: config, with server.grpc_addr and server.http_addr
from ports and server.tls from mtls.
*/}}
{{- define "actions-authz.config" -}}
{{- $server := dict "grpc_addr" (printf ":%d" (int .Values.ports.grpc)) "http_addr" (printf ":%d" (int .Values.ports.http)) }}
{{- if .Values.mtls.enabled }}
{{- $dir := include "actions-authz.tlsDir" . }}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $dir) "key_file" (printf "%s/tls.key" $dir) }}
{{- if .Values.mtls.clientCA }}
{{- $_ := set $tls "client_ca_file" (printf "%s/ca.crt" $dir) }}
{{- end }}
{{- $_ := set $server "tls" $tls }}
{{- end }}
{{- mergeOverwrite (deepCopy .Values.config) (dict "server" $server) | toYaml }}
{{- end }}
