package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/control"
)

// Serve exposes c on the control socket at path until ctx ends or a client
// asks for `down`, then tears the cluster down.
func Serve(ctx context.Context, c *Cluster, path, debugHint string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &handler{c: c, down: cancel, debugHint: debugHint}
	srv, err := control.Listen(path, h, c.log)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// handler adapts a Cluster to control.Handler.
type handler struct {
	c         *Cluster
	down      context.CancelFunc
	debugHint string
}

func (h *handler) Status() control.Status {
	m := h.c.Model()
	return control.Status{
		Name: h.c.cfg.Name, Nodes: len(m.Nodes), Pods: len(m.Pods), Services: len(m.Services),
		Pid: os.Getpid(), DebugHint: h.debugHint, StartedAt: h.c.started.UTC().Format("2006-01-02T15:04:05Z"),
	}
}

func (h *handler) Get(kind string) (json.RawMessage, error) { return h.c.Get(kind) }

func loadControlFiles(files []control.File) (*manifest.Set, []string, error) {
	if len(files) == 0 {
		return nil, nil, errors.New("no manifests given")
	}
	// Decode only: references are validated against the cluster's objects
	// when the set is merged into them (a policy may name a namespace that an
	// earlier apply created).
	all := &manifest.Set{}
	var errs manifest.ErrorList
	for _, f := range files {
		s, err := manifest.Decode(f.Name, f.Data)
		if err != nil {
			var list manifest.ErrorList
			if errors.As(err, &list) {
				errs = append(errs, list...)
				continue
			}
			return nil, nil, err
		}
		all.Objects = append(all.Objects, s.Objects...)
		all.Warnings = append(all.Warnings, s.Warnings...)
	}
	if len(errs) > 0 {
		return nil, nil, errs.Sort()
	}
	var warns []string
	for _, w := range all.Warnings {
		warns = append(warns, w.String())
	}
	return all, warns, nil
}

func (h *handler) Apply(ctx context.Context, files []control.File) (string, []string, error) {
	set, warns, err := loadControlFiles(files)
	if err != nil {
		return "", nil, err
	}
	lines, err := h.c.Apply(ctx, set)
	return strings.Join(lines, "\n"), warns, err
}

func (h *handler) Delete(ctx context.Context, files []control.File) (string, []string, error) {
	set, warns, err := loadControlFiles(files)
	if err != nil {
		return "", nil, err
	}
	lines, err := h.c.Delete(ctx, set)
	return strings.Join(lines, "\n"), warns, err
}

func (h *handler) Exec(ctx context.Context, req control.Request, stdio []*os.File, signals <-chan int) (int, error) {
	return h.c.Exec(ctx, ExecRequest{
		Target: req.Target, Argv: req.Argv, Env: req.Env, Dir: req.Dir,
		Stdio: [3]*os.File{stdio[0], stdio[1], stdio[2]},
	}, signals)
}

func (h *handler) Logs(ctx context.Context, req control.Request, w io.Writer) error {
	return h.c.Logs(ctx, req.Target, req.Container, req.Follow, req.Tail, w)
}

func (h *handler) Down() { h.down() }
