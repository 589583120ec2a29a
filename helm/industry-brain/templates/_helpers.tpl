{{/*
Helpers of the industry-brain chart. Object names are "<release>-<part>". This chart is the one source of the
platform's manifests: `brain deploy render-manifests` renders it (deploy/k8s/) and reads the result.
*/}}

{{- define "brain.labels" -}}
app.kubernetes.io/name: industry-brain
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: industry-brain
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "brain.selectorLabels" -}}
app.kubernetes.io/name: industry-brain
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "brain.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* The tracking URI every pod uses: the chart's MLflow Service, or an external server. */}}
{{- define "brain.mlflowUri" -}}
{{- if .Values.mlflow.enabled -}}
http://{{ .Release.Name }}-mlflow:{{ .Values.mlflow.service.port }}
{{- else -}}
{{- required "mlflow.enabled is false, so mlflow.externalUri must name the tracking server" .Values.mlflow.externalUri -}}
{{- end -}}
{{- end }}

{{/* The capability centre's Service (KubeRay's serve Service, which the chart names and gives the gRPC port). */}}
{{- define "brain.centreService" -}}
{{ .Release.Name }}-capability-centre-serve-svc
{{- end }}

{{/* The URL of the capability centre's REST API inside the cluster: what the portal calls. */}}
{{- define "brain.centreUrl" -}}
{{- .Values.portal.centreUrl | default (printf "http://%s:8000" (include "brain.centreService" .)) -}}
{{- end }}

{{/*
The Serve config (serveConfigV2) of the capability centre; `brain deploy render-serve-config` prints it
(deploy/k8s/serve_config.py adds the dedicated components' applications to it).
*/}}
{{- define "brain.serveConfig" -}}
{{- $c := .Values.capabilityCentre -}}
{{- $env := dict "BRAIN_HOME" $c.home "BRAIN_MLFLOW_TRACKING_URI" (include "brain.mlflowUri" .) -}}
{{- range $name, $value := $c.env -}}
{{- if regexMatch "(?i)(PASSWORD|SECRET|TOKEN|DATABASE_URL|ACCESS_KEY|CREDENTIAL)" $name -}}
{{- fail (printf "capabilityCentre.env.%s looks like a credential; put it in a Secret (database.existingSecret for the database URL)" $name) -}}
{{- end -}}
{{- $_ := set $env $name (toString $value) -}}
{{- end -}}
{{- $args := dict "home" $c.home "replicas" (int $c.replicas) "max_models" (int $c.maxModels) -}}
{{- $app := dict "name" "capability-centre" "route_prefix" "/" "import_path" "deploy.centre.app:application" "args" $args "runtime_env" (dict "env_vars" $env) -}}
{{- $config := dict "proxy_location" "EveryNode" "http_options" (dict "host" "0.0.0.0" "port" 8000) "applications" (list $app) -}}
{{- if $c.grpcPort -}}
{{- /* OIP over gRPC (deploy/centre/grpc_service.py): HAProxy's gRPC frontend to a gRPC server in each replica,
one hop as for REST. Reflection stays off: it would answer without a key. */ -}}
{{- $servicer := "tritonclient.grpc.service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server" -}}
{{- $_ := set $config "grpc_options" (dict "port" (int $c.grpcPort) "grpc_servicer_functions" (list $servicer) "enable_reflection" false) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end }}

{{/* requests = limits, so Ray's view of a node is what Kubernetes gives it. Context: a group. */}}
{{- define "brain.rayResources" -}}
{{- $amounts := dict "cpu" (toString (.cpu | default "2")) "memory" (toString (.memory | default "8Gi")) -}}
{{- if .gpu }}{{- if not .gpuType }}{{ fail (printf "group %v has gpu > 0 but no gpuType (e.g. A10)" (.name | default "head")) }}{{ end }}{{- $_ := set $amounts "nvidia.com/gpu" (int .gpu) -}}{{- end -}}
requests:
{{- toYaml $amounts | nindent 2 }}
limits:
{{- toYaml $amounts | nindent 2 }}
{{- end }}

{{/*
A Ray pod template. Context: dict root (the chart), name (container), group (resources), head (bool),
serve (bool: part of the capability centre's RayService), cluster (the centre's name, or capability-centre).
The pod labels are what the NetworkPolicies select (templates/networkpolicies.yaml): the Ray cluster a pod
belongs to, and whether it is a platform pod (the capability centre) or runs tenants' jobs (a centre).
*/}}
{{- define "brain.rayPod" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
metadata:
  labels:
    {{- include "brain.labels" $root | nindent 4 }}
    app.kubernetes.io/component: ray
    industry-brain.io/ray-cluster: {{ .cluster }}
    {{- if .serve }}
    industry-brain.io/platform: "true"
    {{- end }}
  {{- if $v.metrics.annotations }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "8080"
  {{- end }}
spec:
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  containers:
    - name: {{ .name }}
      image: {{ include "brain.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      env:
        - name: BRAIN_HOME
          value: {{ $v.capabilityCentre.home | quote }}
        - name: BRAIN_MLFLOW_TRACKING_URI
          value: {{ include "brain.mlflowUri" $root | quote }}
        {{- if .serve }}
        # Only the capability centre needs the platform database; the centres' jobs do not get its URL.
        - name: BRAIN_DATABASE_URL
          valueFrom:
            secretKeyRef:
              name: {{ $v.database.existingSecret }}
              key: {{ $v.database.platformUrlKey }}
        # The registry key: replicas check every version's signed manifest hash before loading it.
        - name: BRAIN_REGISTRY_KEY
          valueFrom:
            secretKeyRef:
              name: {{ $v.database.existingSecret }}
              key: {{ $v.database.registryKeyKey }}
        {{- if $v.capabilityCentre.haproxy }}
        # Read by the Serve controller when it starts the proxies: it belongs in the pod's environment.
        - name: RAY_SERVE_ENABLE_HA_PROXY
          value: "1"
        {{- end }}
        # User code on the replica's own event loop, buffered access logs, a frozen start-up heap.
        - name: RAY_SERVE_THROUGHPUT_OPTIMIZED
          value: "1"
        # Inference calls are not watched for client disconnects (deploy/centre/ingress.py).
        - name: RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH
          value: deploy.centre.ingress:middlewares
        {{- end }}
      ports:
        {{- if .head }}
        - {name: gcs, containerPort: 6379}
        - {name: dashboard, containerPort: 8265}
        - {name: client, containerPort: 10001}
        {{- end }}
        {{- if .serve }}
        - {name: serve, containerPort: 8000}
        {{- with $v.capabilityCentre.grpcPort }}
        - {name: grpc, containerPort: {{ . }}}
        {{- end }}
        {{- end }}
        - {name: metrics, containerPort: 8080}
      resources:
        {{- include "brain.rayResources" .group | nindent 8 }}
      livenessProbe:
        httpGet: {path: /api/local_raylet_healthz, port: 52365}
        initialDelaySeconds: 30
        periodSeconds: 15
        timeoutSeconds: 5
        failureThreshold: 6
      readinessProbe:
        {{- if .head }}
        # Never the Serve app here: KubeRay deploys the app only once the head is ready.
        httpGet: {path: /api/gcs_healthz, port: 8265}
        periodSeconds: 10
        {{- else if .serve }}
        # The Serve proxy's own check (HAProxy answers it too): take traffic once this pod can route.
        httpGet: {path: /-/healthz, port: 8000}
        periodSeconds: 5
        {{- else }}
        httpGet: {path: /api/local_raylet_healthz, port: 52365}
        periodSeconds: 10
        {{- end }}
        initialDelaySeconds: 10
        timeoutSeconds: 5
        failureThreshold: 6
      volumeMounts:
        - name: brain-home
          mountPath: {{ $v.capabilityCentre.home }}
  volumes:
    # Caches and the derived catalogue index only: the state is in PostgreSQL and MLflow.
    - name: brain-home
      emptyDir: {}
{{- end }}

{{/* A worker group. Context: dict root, group, serve, cluster. */}}
{{- define "brain.workerGroup" -}}
- groupName: {{ .group.name }}
  replicas: {{ .group.replicas | default 0 | int }}
  minReplicas: {{ .group.minReplicas | default 0 | int }}
  {{- /* hasKey, not `default`: `default` would turn an explicit 0 into 4. */}}
  maxReplicas: {{ if hasKey .group "maxReplicas" }}{{ .group.maxReplicas | int }}{{ else }}4{{ end }}
  rayStartParams:
    metrics-export-port: "8080"
  {{- with .group.gpuType }}
  labels:
    brain/gpu-type: {{ . | quote }}
  {{- end }}
  template:
    {{- include "brain.rayPod" (dict "root" .root "name" "ray-worker" "group" .group "head" false "serve" .serve "cluster" .cluster) | nindent 4 }}
{{- end }}

{{/* A head group. Context: dict root, group, serve, cluster. */}}
{{- define "brain.headGroup" -}}
rayStartParams:
  dashboard-host: "0.0.0.0"
  metrics-export-port: "8080"
template:
  {{- include "brain.rayPod" (dict "root" .root "name" "ray-head" "group" .group "head" true "serve" .serve "cluster" .cluster) | nindent 2 }}
{{- end }}
