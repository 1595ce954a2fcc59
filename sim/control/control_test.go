package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHandler records calls; Exec writes to the passed stdout and reads stdin.
type fakeHandler struct {
	mu      sync.Mutex
	applied []File
	downed  bool
	gotSig  []int
}

func (f *fakeHandler) Status() Status { return Status{Name: "t", Nodes: 2} }
func (f *fakeHandler) Get(kind string) (json.RawMessage, error) {
	if kind != "pods" {
		return nil, errors.New("unknown kind " + kind)
	}
	return json.RawMessage(`{"items":[]}`), nil
}
func (f *fakeHandler) Apply(_ context.Context, files []File) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, files...)
	return "deployment.apps/x created", []string{"warning: w"}, nil
}
func (f *fakeHandler) Delete(context.Context, []File) (string, []string, error) {
	return "", nil, errors.New("x.yaml:3: Service demo/x: not found")
}
func (f *fakeHandler) Exec(ctx context.Context, req Request, stdio []*os.File, signals <-chan int) (int, error) {
	in, _ := io.ReadAll(stdio[0])
	io.WriteString(stdio[1], "out:"+strings.Join(req.Argv, " ")+":"+string(in))
	io.WriteString(stdio[2], "err")
	if req.Argv[0] == "/bin/wait-signal" {
		select {
		case s := <-signals:
			f.mu.Lock()
			f.gotSig = append(f.gotSig, s)
			f.mu.Unlock()
			return 130, nil
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	return 7, nil
}
func (f *fakeHandler) Logs(ctx context.Context, req Request, w io.Writer) error {
	_, err := io.WriteString(w, "line1\nline2\n")
	return err
}
func (f *fakeHandler) Down() {
	f.mu.Lock()
	f.downed = true
	f.mu.Unlock()
}

func startServer(t *testing.T) (*Client, *fakeHandler) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir) // only consulted when not root
	path := filepath.Join(dir, "t.sock")
	h := &fakeHandler{}
	srv, err := Listen(path, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket %s not removed on close", path)
		}
	})
	return &Client{Cluster: "t", path: path}, h
}

func TestRoundTrips(t *testing.T) {
	c, h := startServer(t)
	st, err := c.Status()
	if err != nil || st.Nodes != 2 {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if _, err := c.Get("pods"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("bogus"); err == nil || !strings.Contains(err.Error(), "unknown kind bogus") {
		t.Fatalf("get bogus: %v", err)
	}
	r, err := c.Apply([]File{{Name: "a.yaml", Data: []byte("kind: X")}})
	if err != nil || r.Message != "deployment.apps/x created" || len(r.Warnings) != 1 {
		t.Fatalf("apply = %+v, %v", r, err)
	}
	h.mu.Lock()
	if len(h.applied) != 1 || h.applied[0].Name != "a.yaml" {
		t.Fatalf("handler saw %+v", h.applied)
	}
	h.mu.Unlock()
	if _, err := c.Delete(nil); err == nil || !strings.Contains(err.Error(), "x.yaml:3") {
		t.Fatalf("delete error = %v", err)
	}
	var logs strings.Builder
	if err := c.Logs(Request{Target: "a/b"}, &logs); err != nil || logs.String() != "line1\nline2\n" {
		t.Fatalf("logs = %q, %v", logs.String(), err)
	}
	err = c.Down()
	h.mu.Lock()
	downed := h.downed
	h.mu.Unlock()
	if err != nil || !downed {
		t.Fatalf("down: %v downed=%v", err, downed)
	}
}

func TestExecPassesStdioAndExitCode(t *testing.T) {
	c, _ := startServer(t)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	io.WriteString(inW, "hello")
	inW.Close()
	code, err := c.Exec(Request{Target: "a/b", Argv: []string{"/bin/x", "y"}, Stdin: true}, inR, outW, errW, nil)
	outW.Close()
	errW.Close()
	inR.Close()
	if err != nil || code != 7 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	out, _ := io.ReadAll(outR)
	errOut, _ := io.ReadAll(errR)
	if string(out) != "out:/bin/x y:hello" || string(errOut) != "err" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
}

func TestExecWithoutStdinGetsDevNull(t *testing.T) {
	c, _ := startServer(t)
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	code, err := c.Exec(Request{Target: "a/b", Argv: []string{"/bin/x"}}, nil, outW, errW, nil)
	outW.Close()
	errW.Close()
	if err != nil || code != 7 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	out, _ := io.ReadAll(outR)
	io.ReadAll(errR)
	if string(out) != "out:/bin/x:" {
		t.Fatalf("stdout %q", out)
	}
}

func TestExecForwardsSignals(t *testing.T) {
	c, h := startServer(t)
	_, outW, _ := os.Pipe()
	_, errW, _ := os.Pipe()
	defer outW.Close()
	defer errW.Close()
	sigs := make(chan os.Signal, 1)
	sigs <- os.Interrupt
	code, err := c.Exec(Request{Target: "a/b", Argv: []string{"/bin/wait-signal"}}, nil, outW, errW, sigs)
	if err != nil || code != 130 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.gotSig) != 1 || h.gotSig[0] != 2 {
		t.Fatalf("signals = %v", h.gotSig)
	}
}

func TestDialWithoutClusterSaysHow(t *testing.T) {
	c := &Client{Cluster: "nope", path: filepath.Join(t.TempDir(), "nope.sock")}
	_, err := c.Status()
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "ambientlab up") {
		t.Fatalf("err = %v", err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	c, _ := startServer(t)
	if _, err := Listen(c.path, &fakeHandler{}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second listen: %v", err)
	}
}

func TestValidateClusterName(t *testing.T) {
	for name, ok := range map[string]bool{"ambientlab": true, "ci-1": true, "": false, "Bad": false, "a/b": false, strings.Repeat("a", 41): false} {
		if err := ValidateClusterName(name); (err == nil) != ok {
			t.Errorf("ValidateClusterName(%q) = %v", name, err)
		}
	}
}
