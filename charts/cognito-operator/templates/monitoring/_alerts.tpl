{{/*
The labels and annotations of one alert: its severity, the chart's alertLabels, and,
when runbookUrl is set (where your copy of docs/operations.md is published), a
runbook_url pointing at the alert's section (the heading is the alert's name, so the
anchor is its name in lower case).
Arguments: (list <root context> <alert name> <alert values> <summary> <description>).
*/}}
{{- define "cognito-operator.alertMeta" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $alert := index . 2 }}
{{- $rule := $root.Values.monitoring.prometheusRule -}}
labels:
  severity: {{ $alert.severity | quote }}
  {{- with $rule.alertLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  summary: {{ index . 3 | quote }}
  description: {{ index . 4 | quote }}
  {{- with $rule.runbookUrl }}
  runbook_url: {{ printf "%s#%s" . (lower $name) | quote }}
  {{- end }}
{{- end }}
