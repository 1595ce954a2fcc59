package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
)

// Handler is what a running cluster offers to clients.
type Handler interface {
	Status() Status
	Get(kind string) (json.RawMessage, error)
	Apply(ctx context.Context, files []File) (message string, warnings []string, err error)
	Delete(ctx context.Context, files []File) (message string, warnings []string, err error)
	// Exec runs argv in the target pod with the given stdio; signals delivers
	// signal numbers forwarded by the client. It returns the exit code.
	Exec(ctx context.Context, req Request, stdio []*os.File, signals <-chan int) (int, error)
	// Logs writes the target's log to w, following it if req.Follow until ctx ends.
	Logs(ctx context.Context, req Request, w io.Writer) error
	Down()
}

// Server accepts control connections for one cluster.
type Server struct {
	ln      *net.UnixListener
	handler Handler
	log     *slog.Logger
	wg      sync.WaitGroup
}

// Listen creates the control socket at path. A stale socket (no listener) is
// replaced; a live one is an error, so two clusters never share a name.
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket dir: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("a cluster is already running on %s (use --name for another, or `ambientlab down`)", path)
	}
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	return &Server{ln: ln, handler: h, log: log}, nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "."
}

// Serve handles connections until ctx ends or Close is called.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.wg.Wait()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(ctx, c)
		}()
	}
}

// Close stops accepting and removes the socket file.
func (s *Server) Close() error { return s.ln.Close() }

func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	files, err := recvHeader(c, 3)
	if err != nil {
		s.log.Debug("control: bad header", "err", err)
		return
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	dec := json.NewDecoder(io.LimitReader(c, 64<<20))
	enc := json.NewEncoder(c)
	var req Request
	if err := dec.Decode(&req); err != nil {
		enc.Encode(Response{Error: fmt.Sprintf("bad request: %v", err), Done: true})
		return
	}
	reply := func(r Response) { r.Done = true; enc.Encode(r) }
	switch req.Op {
	case OpStatus:
		b, _ := json.Marshal(s.handler.Status())
		reply(Response{Data: b})
	case OpGet:
		b, err := s.handler.Get(req.Kind)
		reply(Response{Data: b, Error: errString(err)})
	case OpApply, OpDelete:
		fn := s.handler.Apply
		if req.Op == OpDelete {
			fn = s.handler.Delete
		}
		msg, warns, err := fn(ctx, req.Files)
		reply(Response{Message: msg, Warnings: warns, Error: errString(err)})
	case OpExec:
		s.exec(ctx, c, dec, enc, req, files)
	case OpLogs:
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { // the client hanging up ends a follow
			io.Copy(io.Discard, c)
			cancel()
		}()
		err := s.handler.Logs(lctx, req, &chunkWriter{enc: enc})
		reply(Response{Error: errString(err)})
	case OpDown:
		s.handler.Down() // non-blocking; the reply still goes out before teardown closes us
		reply(Response{Message: "shutting down"})
	default:
		reply(Response{Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

func (s *Server) exec(ctx context.Context, c *net.UnixConn, dec *json.Decoder, enc *json.Encoder, req Request, files []*os.File) {
	want := 2
	if req.Stdin {
		want = 3
	}
	if len(files) != want {
		enc.Encode(Response{Error: fmt.Sprintf("exec: expected %d stdio descriptors, got %d", want, len(files)), Done: true})
		return
	}
	stdio := files
	if !req.Stdin {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			enc.Encode(Response{Error: err.Error(), Done: true})
			return
		}
		defer devnull.Close()
		stdio = append([]*os.File{devnull}, files...)
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	signals := make(chan int, 4)
	go func() {
		// Signal frames until the client goes away; a vanished client kills the command.
		for {
			var sig ClientSignal
			if err := dec.Decode(&sig); err != nil {
				cancel()
				return
			}
			select {
			case signals <- sig.Signal:
			default:
			}
		}
	}()
	code, err := s.handler.Exec(ectx, req, stdio, signals)
	r := Response{Error: errString(err), Done: true}
	if err == nil {
		r.Exit = &code
	}
	enc.Encode(r)
}

type chunkWriter struct{ enc *json.Encoder }

func (w *chunkWriter) Write(p []byte) (int, error) {
	if err := w.enc.Encode(Response{Chunk: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// SignalNumber maps an os.Signal to its number for forwarding.
func SignalNumber(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return int(s)
	}
	return int(syscall.SIGTERM)
}
