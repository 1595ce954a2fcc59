package topology

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Annotations through which manifests steer the built-in workloads.
const (
	// AnnotationWorkload overrides the image table: "echo" or "idle".
	AnnotationWorkload = "ambientlab.io/workload"
	// AnnotationTCPPorts lists container ports ("9000,9001") on which the echo
	// workload speaks raw TCP whatever the port's name.
	AnnotationTCPPorts = "ambientlab.io/tcp-ports"
)

// ImageRule maps container images to a built-in workload. The simulator never
// pulls images; it runs the workload the image stands for.
type ImageRule struct {
	// Pattern is a path.Match pattern over the normalized repository
	// ("docker.io/library/busybox"; tag and digest stripped).
	Pattern  string
	Workload WorkloadKind
	// DefaultPorts are served when the container declares no ports, because
	// the real image listens there without saying so.
	DefaultPorts []uint16
	Notes        string
}

// ImageTable is the documented image → workload table, first match wins.
// Images matching no rule run the echo workload on their declared ports,
// unless the pod annotation ambientlab.io/workload picks another, or the
// container's command is sleep (then idle).
var ImageTable = []ImageRule{
	{Pattern: "docker.io/kennethreitz/httpbin", Workload: WorkloadEcho, DefaultPorts: []uint16{80},
		Notes: "classic httpbin (gunicorn on :80); httpbin endpoints"},
	{Pattern: "docker.io/mccutchen/go-httpbin", Workload: WorkloadEcho, DefaultPorts: []uint16{8080},
		Notes: "Istio's samples/httpbin (go-httpbin on :8080); httpbin endpoints"},
	{Pattern: "*/*/httpbin", Workload: WorkloadEcho, DefaultPorts: []uint16{80},
		Notes: "other httpbin builds, e.g. docker.io/istio/httpbin"},
	{Pattern: "docker.io/curlimages/curl", Workload: WorkloadIdle,
		Notes: "Istio's samples/sleep and samples/curl client"},
	{Pattern: "docker.io/library/busybox", Workload: WorkloadIdle, Notes: "shell client"},
	{Pattern: "docker.io/library/alpine", Workload: WorkloadIdle, Notes: "shell client"},
	{Pattern: "docker.io/nicolaka/netshoot", Workload: WorkloadIdle, Notes: "network debugging client"},
	{Pattern: "docker.io/istio/base", Workload: WorkloadIdle, Notes: "Istio test client base image"},
}

// NormalizeImage returns the repository of an image reference in the fully
// qualified form ImageTable patterns use: default registry docker.io, default
// namespace library, no tag or digest.
func NormalizeImage(image string) string {
	ref := image
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	first := parts[0]
	hasRegistry := len(parts) > 1 && (strings.ContainsAny(first, ".:") || first == "localhost")
	if !hasRegistry {
		if len(parts) == 1 {
			parts = []string{"library", parts[0]}
		}
		parts = append([]string{"docker.io"}, parts...)
	}
	return strings.ToLower(strings.Join(parts, "/"))
}

// MatchImage returns the first rule matching image.
func MatchImage(image string) (ImageRule, bool) {
	repo := NormalizeImage(image)
	for _, r := range ImageTable {
		if ok, _ := path.Match(r.Pattern, repo); ok {
			return r, true
		}
	}
	return ImageRule{}, false
}

// ParseWorkloadKind parses the values users may write in AnnotationWorkload.
// WorkloadSystem is reserved for the simulator's own pods.
func ParseWorkloadKind(s string) (WorkloadKind, error) {
	switch k := WorkloadKind(s); k {
	case WorkloadEcho, WorkloadIdle:
		return k, nil
	}
	return "", fmt.Errorf("unknown workload %q (want %q or %q)", s, WorkloadEcho, WorkloadIdle)
}

// workloadFor decides what a container runs: the annotation, then a sleep
// command (curl/sleep clients), then the image table, then echo.
func workloadFor(annotation WorkloadKind, image string, command []string) (WorkloadKind, *ImageRule) {
	rule, matched := MatchImage(image)
	var rp *ImageRule
	if matched {
		rp = &rule
	}
	switch {
	case annotation != "":
		return annotation, rp
	case len(command) > 0 && path.Base(command[0]) == "sleep":
		return WorkloadIdle, rp
	case matched:
		return rule.Workload, rp
	}
	return WorkloadEcho, nil
}

// AppProtocolFor is the port naming rule: names starting with tcp, mongo,
// redis or mysql speak raw TCP; http*, grpc*, unnamed and all other ports
// speak HTTP. forcedTCP (AnnotationTCPPorts) wins.
func AppProtocolFor(portName string, forcedTCP bool) AppProtocol {
	if forcedTCP {
		return AppTCP
	}
	for _, p := range []string{"tcp", "mongo", "redis", "mysql"} {
		if strings.HasPrefix(strings.ToLower(portName), p) {
			return AppTCP
		}
	}
	return AppHTTP
}

// parseTCPPorts parses AnnotationTCPPorts.
func parseTCPPorts(v string) (map[uint16]bool, error) {
	out := map[uint16]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a port number 1-65535", f)
		}
		out[uint16(n)] = true
	}
	return out, nil
}

// ImageTableMarkdown renders ImageTable and the fallback rules for the docs.
func ImageTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| Image (normalized repository) | Workload | Default ports | Notes |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, r := range ImageTable {
		ports := make([]string, len(r.DefaultPorts))
		for i, p := range r.DefaultPorts {
			ports[i] = strconv.Itoa(int(p))
		}
		def := strings.Join(ports, ", ")
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Pattern, r.Workload, def, r.Notes)
	}
	fmt.Fprintf(&b, "| any image whose command is `sleep` | %s | — | curl/sleep clients |\n", WorkloadIdle)
	fmt.Fprintf(&b, "| any other image | %s | — | declared container ports only |\n", WorkloadEcho)
	fmt.Fprintf(&b, "\nPod annotation `%s: echo|idle` overrides the table. "+
		"Port names starting with tcp, mongo, redis or mysql speak raw TCP, all others HTTP; "+
		"`%s: \"9000,9001\"` forces raw TCP on listed ports.\n", AnnotationWorkload, AnnotationTCPPorts)
	return b.String()
}
