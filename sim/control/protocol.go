// Package control is the wire between the `ambientlab` CLI and a running
// cluster's supervisor: one request per unix-socket connection, JSON encoded,
// with the caller's stdio handed over as file descriptors (SCM_RIGHTS) for exec,
// so the command runs inside the sandbox (and dies with it) while reading and
// writing the user's terminal, pipes or files directly.
package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Op names a request type.
type Op string

const (
	OpStatus Op = "status"
	OpGet    Op = "get"
	OpApply  Op = "apply"
	OpDelete Op = "delete"
	OpExec   Op = "exec"
	OpLogs   Op = "logs"
	OpDown   Op = "down"
)

// File is a manifest file sent by content, named as the user gave it so that
// errors point at the user's path.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// Request is the single message a client sends on a fresh connection.
type Request struct {
	Op Op `json:"op"`
	// Get
	Kind string `json:"kind,omitempty"` // nodes | pods | svc
	// Apply / Delete
	Files []File `json:"files,omitempty"`
	// Exec / Logs: a pod reference "ns/pod" or "ns/deploy/name".
	Target    string   `json:"target,omitempty"`
	Container string   `json:"container,omitempty"`
	Argv      []string `json:"argv,omitempty"`
	Env       []string `json:"env,omitempty"`
	Dir       string   `json:"dir,omitempty"`
	Stdin     bool     `json:"stdin,omitempty"` // exec: whether fd 0 is passed
	Follow    bool     `json:"follow,omitempty"`
	Tail      int      `json:"tail,omitempty"`
}

// Response is a reply frame. Streaming ops (exec, logs) send frames until one
// with Done set.
type Response struct {
	Error    string          `json:"error,omitempty"`
	Message  string          `json:"message,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Chunk    []byte          `json:"chunk,omitempty"`
	Exit     *int            `json:"exit,omitempty"`
	Done     bool            `json:"done,omitempty"`
}

// ClientSignal is a frame a client sends during exec to forward a signal.
type ClientSignal struct {
	Signal int `json:"signal"`
}

// Status describes a running cluster.
type Status struct {
	Name      string `json:"name"`
	Nodes     int    `json:"nodes"`
	Pods      int    `json:"pods"`
	Services  int    `json:"services"`
	Pid       int    `json:"pid"`
	DebugHint string `json:"debugHint,omitempty"`
	StartedAt string `json:"startedAt"`
}

// SocketDir is where running clusters listen. Root uses /run; others use
// $XDG_RUNTIME_DIR (rootless sandboxes).
func SocketDir() string {
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "ambientlab")
		}
	}
	return "/run/ambientlab"
}

// SocketPath returns the control socket of the named cluster.
func SocketPath(cluster string) string {
	return filepath.Join(SocketDir(), cluster+".sock")
}

// ErrNoCluster means no running cluster answers on the socket.
var ErrNoCluster = errors.New("no running cluster")

// ListClusters returns the names of clusters with a socket file, sorted.
// A listed socket may be stale; Dial reports that precisely.
func ListClusters() []string {
	entries, _ := os.ReadDir(SocketDir())
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".sock"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ValidateClusterName keeps names usable as file names.
func ValidateClusterName(name string) error {
	if name == "" || len(name) > 40 {
		return fmt.Errorf("cluster name %q: must be 1-40 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("cluster name %q: only lower-case letters, digits and '-'", name)
		}
	}
	return nil
}
