package topology

import (
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeImage(t *testing.T) {
	cases := map[string]string{
		"busybox":                                 "docker.io/library/busybox",
		"busybox:1.36":                            "docker.io/library/busybox",
		"curlimages/curl":                         "docker.io/curlimages/curl",
		"curlimages/curl@sha256:abc":              "docker.io/curlimages/curl",
		"docker.io/kennethreitz/httpbin":          "docker.io/kennethreitz/httpbin",
		"localhost:5000/team/app:v1":              "localhost:5000/team/app",
		"gcr.io/istio-release/pilot:1.31.1":       "gcr.io/istio-release/pilot",
		"Docker.io/MccUtchen/go-httpbin:v2.15.0":  "docker.io/mccutchen/go-httpbin",
		"registry.example.com:443/x/y@sha256:abc": "registry.example.com:443/x/y",
	}
	for in, want := range cases {
		if got := NormalizeImage(in); got != want {
			t.Errorf("NormalizeImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWorkloadFor(t *testing.T) {
	cases := []struct {
		annotation WorkloadKind
		image      string
		command    []string
		want       WorkloadKind
		ports      string
	}{
		{"", "docker.io/kennethreitz/httpbin", nil, WorkloadEcho, "[80]"},
		{"", "kennethreitz/httpbin:latest", nil, WorkloadEcho, "[80]"},
		{"", "docker.io/mccutchen/go-httpbin:v2.15.0", nil, WorkloadEcho, "[8080]"},
		{"", "docker.io/istio/httpbin", nil, WorkloadEcho, "[80]"},
		{"", "curlimages/curl", []string{"/bin/sleep", "infinity"}, WorkloadIdle, "[]"},
		{"", "curlimages/curl", nil, WorkloadIdle, "[]"},
		{"", "example.com/anything", []string{"sleep", "3650d"}, WorkloadIdle, "none"},
		{"", "example.com/anything", nil, WorkloadEcho, "none"},
		{WorkloadIdle, "docker.io/kennethreitz/httpbin", nil, WorkloadIdle, "[80]"},
		{WorkloadEcho, "curlimages/curl", []string{"/bin/sleep", "infinity"}, WorkloadEcho, "[]"},
	}
	for _, tc := range cases {
		got, rule := workloadFor(tc.annotation, tc.image, tc.command)
		ports := "none"
		if rule != nil {
			ports = fmt.Sprint(rule.DefaultPorts)
		}
		if got != tc.want || ports != tc.ports {
			t.Errorf("workloadFor(%q, %q, %v) = %s %s, want %s %s", tc.annotation, tc.image, tc.command, got, ports, tc.want, tc.ports)
		}
	}
}

func TestAppProtocolFor(t *testing.T) {
	cases := []struct {
		name   string
		forced bool
		want   AppProtocol
	}{
		{"", false, AppHTTP}, {"http", false, AppHTTP}, {"http-web", false, AppHTTP}, {"grpc", false, AppHTTP},
		{"metrics", false, AppHTTP}, {"tcp", false, AppTCP}, {"tcp-echo", false, AppTCP}, {"mongo", false, AppTCP},
		{"redis-main", false, AppTCP}, {"mysql", false, AppTCP}, {"http", true, AppTCP},
	}
	for _, tc := range cases {
		if got := AppProtocolFor(tc.name, tc.forced); got != tc.want {
			t.Errorf("AppProtocolFor(%q, %v) = %s, want %s", tc.name, tc.forced, got, tc.want)
		}
	}
}

func TestParseWorkloadKind(t *testing.T) {
	for in, ok := range map[string]bool{"echo": true, "idle": true, "system": false, "": false, "Echo": false} {
		if _, err := ParseWorkloadKind(in); (err == nil) != ok {
			t.Errorf("ParseWorkloadKind(%q) err = %v", in, err)
		}
	}
}

func TestAnnotationsApplyToContainers(t *testing.T) {
	y := ns + `apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc
  namespace: demo
  annotations: {ambientlab.io/tcp-ports: "9000"}
spec:
  selector: {matchLabels: {app: svc}}
  template:
    metadata:
      labels: {app: svc}
      annotations: {ambientlab.io/workload: echo}
    spec:
      containers:
      - name: main
        image: curlimages/curl
        command: ["/bin/sleep", "infinity"]
        ports:
        - {name: http, containerPort: 9000}
        - {name: tcp-raw, containerPort: 9001}
        - {containerPort: 9002}
`
	c := resolve(t, load(t, "a.yaml", y), ResolveOptions{}, nil)
	ct := c.Pods[0].Containers[0]
	if ct.Workload != WorkloadEcho {
		t.Errorf("workload %s", ct.Workload)
	}
	got := fmt.Sprint(ct.Ports)
	if want := "[{http 9000 TCP tcp} {tcp-raw 9001 TCP tcp} { 9002 TCP http}]"; got != want {
		t.Errorf("ports %s, want %s", got, want)
	}
}

func TestImageTableMarkdown(t *testing.T) {
	md := ImageTableMarkdown()
	for _, r := range ImageTable {
		if !strings.Contains(md, "`"+r.Pattern+"`") {
			t.Errorf("markdown lacks %s", r.Pattern)
		}
	}
	if !strings.Contains(md, AnnotationWorkload) || !strings.Contains(md, AnnotationTCPPorts) {
		t.Error("markdown does not document the annotations")
	}
}
