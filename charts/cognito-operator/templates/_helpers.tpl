{{/* Chart name, overridable. */}}
{{- define "cognito-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every namespaced object name. */}}
{{- define "cognito-operator.fullname" -}}
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

{{/* Name of cluster-scoped objects: the namespace is part of it, so the same release
name in two namespaces does not collide. */}}
{{- define "cognito-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "cognito-operator.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "cognito-operator.webhookApiName" -}}
{{- printf "%s-webhook-api" (include "cognito-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cognito-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "cognito-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cognito-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component ("operator" or "webhook-api"): pass (list $ "operator"). */}}
{{- define "cognito-operator.selectorLabels" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "cognito-operator.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "cognito-operator.componentLabels" -}}
{{ include "cognito-operator.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "cognito-operator.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "cognito-operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cognito-operator.webhookApiServiceAccount" -}}
{{- if .Values.webhookApi.serviceAccount.create }}
{{- default (include "cognito-operator.webhookApiName" .) .Values.webhookApi.serviceAccount.name }}
{{- else }}
{{- required "webhookApi.serviceAccount.name is required when webhookApi.serviceAccount.create is false" .Values.webhookApi.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cognito-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "cognito-operator.fullname" .)) .Values.operator.leaderElection.leaseName }}
{{- end }}

{{/* repository:tag or repository@digest; pass an image block and the root context. */}}
{{- define "cognito-operator.image" -}}
{{- $image := index . 0 }}
{{- $ctx := index . 1 -}}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $ctx.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* AWS settings both components share. */}}
{{- define "cognito-operator.awsEnv" -}}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/* Egress rules both components share (NetworkPolicy). Pass (list $ includeApiServer). */}}
{{- define "cognito-operator.egressRules" -}}
{{- $ctx := index . 0 }}
{{- $apiServer := index . 1 }}
{{- $egress := $ctx.Values.networkPolicy.egress -}}
{{- if $egress.dns }}
- ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}
{{- if $apiServer }}
- ports:
  {{- range $egress.apiServer.ports }}
    - {protocol: TCP, port: {{ . }}}
  {{- end }}
  {{- with $egress.apiServer.cidrs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  {{- end }}
{{- end }}
- ports:
    - {protocol: TCP, port: 443}
  {{- with $egress.aws.cidrs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  {{- end }}
{{- if $egress.podIdentityAgent }}
- ports:
    - {protocol: TCP, port: 80}
  to:
    - ipBlock: {cidr: 169.254.170.23/32}
    - ipBlock: {cidr: "fd00:ec2::23/128"}
{{- end }}
{{- with $egress.extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Topology spread of a component's pods: the values' own constraints, else, when it may
run more than one replica, a soft spread over nodes and zones (soft, so that a
single-node or single-zone cluster still schedules them).
Arguments: (list <root context> <component> <constraints> <most replicas>).
*/}}
{{- define "cognito-operator.topologySpread" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $constraints := index . 2 }}
{{- $replicas := index . 3 }}
{{- if $constraints }}
topologySpreadConstraints:
  {{- toYaml $constraints | nindent 2 }}
{{- else if gt (int $replicas) 1 }}
topologySpreadConstraints:
  {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "cognito-operator.selectorLabels" (list $root $component) | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
  {{- end }}
{{- end }}
{{- end }}
