{{/* Names and labels shared by every manifest. */}}

{{- define "bridgeline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bridgeline.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bridgeline.labels" -}}
{{ include "bridgeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The migration Job's pods: not selected by the Service, the PodDisruptionBudget or the spread. */}}
{{- define "bridgeline.migrationLabels" -}}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migrations
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bridgeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "bridgeline.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "bridgeline.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* SQLite mode: no database Secret, so one pod with its database in /var/lib/bridgeline. */}}
{{- define "bridgeline.sqlite" -}}
{{- if not .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The migration Job runs only with PostgreSQL: a SQLite file lives in the pod's own volume. */}}
{{- define "bridgeline.migrationJob" -}}
{{- if and .Values.migrationJob.enabled .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Values the schema cannot judge alone; each refusal says what to set. */}}
{{- define "bridgeline.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) -}}
{{- fail "replicaCount > 1 needs PostgreSQL: set database.existingSecret (a Secret with the database URL)" -}}
{{- end -}}
{{- if and .Values.secrets.keys (not .Values.secrets.existingSecret) -}}
{{- fail "secrets.keys names keys of a Secret: set secrets.existingSecret to its name (or secrets.keys: null for no secret files)" -}}
{{- end -}}
{{- if and .Values.persistence.enabled .Values.database.existingSecret -}}
{{- fail "persistence is for SQLite (database.existingSecret empty); with PostgreSQL the pods keep no state: set persistence.enabled: false" -}}
{{- end -}}
{{- if and .Values.database.existingSecret (not .Values.database.urlKey) -}}
{{- fail "database.urlKey: name the key of database.existingSecret that holds the database URL" -}}
{{- end -}}
{{- end -}}

{{/* The database URL, from the Secret or a SQLite file; shared by the pods and the migration Job. */}}
{{- define "bridgeline.databaseEnv" -}}
{{- if .Values.database.existingSecret -}}
- name: BRIDGELINE_DATABASE_URL_FILE
  value: {{ printf "/run/secrets/bridgeline-database/%s" .Values.database.urlKey | quote }}
{{- else -}}
- name: BRIDGELINE_DATABASE_URL
  value: sqlite:////var/lib/bridgeline/bridgeline.db
{{- end -}}
{{- end -}}

{{- define "bridgeline.databaseVolume" -}}
{{- if .Values.database.existingSecret -}}
- name: database
  secret:
    secretName: {{ .Values.database.existingSecret }}
    defaultMode: 0400
{{- end -}}
{{- end -}}

{{- define "bridgeline.databaseMount" -}}
{{- if .Values.database.existingSecret -}}
- name: database
  mountPath: /run/secrets/bridgeline-database
  readOnly: true
{{- end -}}
{{- end -}}

{{/*
The Secrets' resource versions, read from the cluster on install and upgrade (empty for
`helm template`): a rotated Secret rolls the pods at the next upgrade. Versions, not contents:
the annotation must tell nothing about a secret.
*/}}
{{- define "bridgeline.secretVersions" -}}
{{- range $name := list .Values.database.existingSecret .Values.secrets.existingSecret }}
{{- if $name }}
{{ $name }}={{ dig "metadata" "resourceVersion" "" (lookup "v1" "Secret" $.Release.Namespace $name) }}
{{- end }}
{{- end }}
{{- end -}}
